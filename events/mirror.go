package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A region far from the fronts keeps a local copy of the revocation stream:
// a JetStream mirror in its own JetStream domain (a leaf node's), named like
// the stream, so a sidecar there reads it with the grants it has everywhere
// and keeps enforcing while the link to the fronts' region is down. A mirror
// keeps the origin's sequence numbers, so a sidecar's watermark means the
// same in both regions.
//
// Measured on nats-server 2.15.2 (events TestMirrorKeepsSequencesTTLAndLatest,
// cmd/revocast TestE2ERegionLeafMirror): the mirror stores each message with
// its origin timestamp and Nats-TTL header and expires it itself, at the
// same moment as the origin, but only when the mirror allows per-message TTL;
// MaxMsgsPerSubject 1 keeps the latest per subject on the mirror too. A
// mirror never learns that its origin was deleted and re-created: it keeps
// asking for the sequence after its last and receives nothing new (its
// source's Active time grows), so the operator re-creates it (revocast init
// --mirror-from does when the origin's creation time is not the one it
// recorded).

// Mirror metadata keys: what the mirror's creator recorded about the origin.
const (
	// MetaOriginCreated is the origin stream's creation time
	// (RFC 3339, nanoseconds): a sidecar reading the mirror announces it as
	// its watermark's epoch, so the fronts, which know the origin, accept it.
	MetaOriginCreated = "revocast.origin_created"
	// MetaOriginDomain is the origin's JetStream domain.
	MetaOriginDomain = "revocast.origin_domain"
)

// ErrNotMirror: a stream is not a revocast mirror of the revocation stream.
var ErrNotMirror = errors.New("not a mirror of the revocation stream")

// MirrorConfig returns the definition of a local copy of the revocation
// stream mirroring the stream of the same name in JetStream domain
// originDomain, created at originCreated. Like the origin it keeps one
// message per subject and honours per-message TTLs; it has no subjects of
// its own (nobody publishes to it) and no duplicate window.
func (o StreamOptions) MirrorConfig(originDomain string, originCreated time.Time) jetstream.StreamConfig {
	o = o.withDefaults()
	return jetstream.StreamConfig{
		Name:              o.Name,
		Description:       fmt.Sprintf("revocast revocation events: a mirror of %s in JetStream domain %s", o.Name, originDomain),
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxMsgSize:        MaxEventSize,
		AllowMsgTTL:       true,
		Mirror:            &jetstream.StreamSource{Name: o.Name, Domain: originDomain},
		Metadata: map[string]string{
			MetaOriginCreated: originCreated.UTC().Format(time.RFC3339Nano),
			MetaOriginDomain:  originDomain,
		},
	}
}

// MirrorOrigin returns the origin creation time a mirror's creator recorded
// (ErrNotMirror for a stream that is not a mirror or records none).
func MirrorOrigin(cfg jetstream.StreamConfig) (time.Time, error) {
	if cfg.Mirror == nil {
		return time.Time{}, ErrNotMirror
	}
	v, ok := cfg.Metadata[MetaOriginCreated]
	if !ok {
		return time.Time{}, fmt.Errorf("%w: no %s in its metadata", ErrNotMirror, MetaOriginCreated)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q: %w", ErrNotMirror, MetaOriginCreated, v, err)
	}
	return t, nil
}

// EnsureMirror creates the mirror in local (a JetStream context of the
// region's own domain), reading the origin's creation time through origin
// (a context of the origin's domain). A mirror that records another origin
// (the origin was deleted and re-created since) is deleted and created
// again; recreated says so.
func EnsureMirror(ctx context.Context, local, origin jetstream.JetStream, originDomain string, o StreamOptions) (st jetstream.Stream, recreated bool, err error) {
	name := o.withDefaults().Name
	ost, err := origin.Stream(ctx, name)
	if err != nil {
		return nil, false, fmt.Errorf("origin stream %s in domain %s: %w", name, originDomain, err)
	}
	created := ost.CachedInfo().Created
	cfg := o.MirrorConfig(originDomain, created)
	cur, err := local.Stream(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, false, fmt.Errorf("mirror %s: %w", name, err)
	default:
		got, oerr := MirrorOrigin(cur.CachedInfo().Config)
		if oerr != nil && !errors.Is(oerr, ErrNotMirror) {
			return nil, false, oerr
		}
		if cur.CachedInfo().Config.Mirror == nil {
			return nil, false, fmt.Errorf("stream %s exists here and is not a mirror: %w", name, ErrNotMirror)
		}
		if oerr == nil && got.Equal(created) {
			st, err := local.UpdateStream(ctx, cfg)
			if err != nil {
				return nil, false, fmt.Errorf("update mirror %s: %w", name, err)
			}
			return st, false, nil
		}
		if err := local.DeleteStream(ctx, name); err != nil {
			return nil, false, fmt.Errorf("delete mirror %s of an older origin: %w", name, err)
		}
		recreated = true
	}
	st, err = local.CreateStream(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("create mirror %s: %w", name, err)
	}
	return st, recreated, nil
}
