package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natsconn"
	"github.com/revocast/revocast/publisher/registry"
)

// runInit creates, or updates to the current definitions, the revocation
// and ledger streams and the registry bucket: stream administration, with
// the operator's NATS identity. Fronts then only use them.
func runInit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonOpts
	var dedup time.Duration
	fs := newFlagSet("init", "Create or update the revocation streams and the token registry bucket (the operator's NATS identity).", stderr)
	c.register(fs, true)
	fs.DurationVar(&dedup, "dedup-window", events.DefaultDuplicateWindow, "JetStream duplicate window for retried publishes")
	mirrorFrom := fs.String("mirror-from", "", "in a region's leaf node: create or update the mirror of the stream of this JetStream domain "+
		"(the fronts' region) instead of the streams and the bucket; its sidecars read it under the same name")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	c.natsAuth.Password = getenv(natsPasswordEnv)
	var domainErr error
	if *mirrorFrom != "" && events.ValidID(*mirrorFrom) != nil {
		domainErr = fmt.Errorf("--mirror-from must be a JetStream domain name (letters, digits, '_' and '-'), got %q", *mirrorFrom)
	}
	if err := errors.Join(c.validate(), positiveDuration("dedup-window", dedup, false), domainErr); err != nil {
		return usageErr(err)
	}
	nc, err := natsconn.Connect(natsconn.Options{URLs: c.natsURL, Name: "revocast-init", Auth: c.natsAuth,
		InboxPrefix: natsauth.InboxPrefix(natsauth.Operator, "")}, zerolog.New(stderr).With().Timestamp().Logger())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	o := c.streamOptions(dedup)
	if *mirrorFrom != "" {
		if err := initMirror(cctx, nc, js, o, *mirrorFrom, stdout); err != nil {
			return fmt.Errorf("init --mirror-from %s with %s at %s: %w", *mirrorFrom, c.natsAuth.Describe(), c.natsURL, err)
		}
		return nil
	}
	b := registry.StoreOptions{Replicas: c.replicas}
	if err := ensure(cctx, js, o, b); err != nil {
		return fmt.Errorf("init with %s at %s: %w", c.natsAuth.Describe(), c.natsURL, err)
	}
	fmt.Fprintf(stdout, "streams %s and %s and bucket %s are ready (replicas %d)\n",
		o.Config().Name, o.LedgerName(), registry.BucketConfig(b).Bucket, c.replicas)
	return nil
}
