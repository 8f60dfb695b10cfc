package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// initMirror creates or updates, in the JetStream domain of the server
// connected to (a region's leaf node), the mirror of the revocation stream
// of JetStream domain origin, and re-creates one that mirrors an older
// origin (the stream there was deleted and re-created since: a mirror
// would wait for it forever). Sidecars of the region read the mirror under
// the stream's name.
func initMirror(ctx context.Context, nc *nats.Conn, local jetstream.JetStream, o events.StreamOptions, origin string, stdout io.Writer) error {
	ojs, err := jetstream.NewWithDomain(nc, origin)
	if err != nil {
		return err
	}
	st, recreated, err := events.EnsureMirror(ctx, local, ojs, origin, o)
	if err != nil {
		return err
	}
	info := st.CachedInfo()
	oc, _ := events.MirrorOrigin(info.Config)
	fmt.Fprintf(stdout, "mirror %s of %s in JetStream domain %s is ready (replicas %d, origin created %s)\n",
		info.Config.Name, info.Config.Name, origin, info.Config.Replicas, oc.Format(time.RFC3339Nano))
	if recreated {
		fmt.Fprintf(stdout, "it was re-created: it mirrored an older %s (the origin was deleted and re-created since); "+
			"the region's sidecars replay it from the start\n", info.Config.Name)
	}
	return nil
}
