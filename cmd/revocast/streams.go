package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/nats-io/nuid"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/registry"
)

// streams is what the front needs in JetStream: the revocation and ledger
// streams and the registry bucket.
type streams struct {
	js     jetstream.JetStream // the front's identity: reads
	admin  jetstream.JetStream // the operator's: creates and updates (manage)
	opts   events.StreamOptions
	bucket registry.StoreOptions
	manage bool // create and update them (the operator identity); else only check
	log    zerolog.Logger
	// onEpoch receives the revocation stream's creation time whenever it is
	// read: a watermark of another stream confirms nothing.
	onEpoch func(time.Time)
	// store publishes; when its last messages failed, a probe tells whether
	// JetStream stores again (a full disk freed, a leader elected).
	store  probeStore
	origin string
	// health, when set, adds what the NATS server itself knows (revocast
	// dev's embedded server: a write error).
	health func() error

	problem atomic.Pointer[string] // nil: everything exists
}

// probeStore is what the keeper needs of the publishing store.
type probeStore interface {
	Health() error
	Append(ctx context.Context, entries []publisher.Entry) []publisher.Outcome
}

// errMissing: a stream or the bucket does not exist.
var errMissing = errors.New("missing")

// ensure creates or updates every stream and the bucket (stream administration).
func ensure(ctx context.Context, js jetstream.JetStream, o events.StreamOptions, b registry.StoreOptions) error {
	if _, err := events.EnsureStream(ctx, js, o); err != nil {
		return err
	}
	return registry.EnsureBucket(ctx, js, b)
}

// check reads the streams and the bucket, creating what is missing when it
// manages them, and records what is wrong.
func (s *streams) check(ctx context.Context) error {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := s.exist(c)
	if errors.Is(err, errMissing) && s.manage {
		s.log.Warn().Err(err).Msg("re-creating the revocation streams and the token registry bucket")
		if err = ensure(c, s.admin, s.opts, s.bucket); err == nil {
			err = s.exist(c)
		}
	}
	if err == nil && s.health != nil {
		err = s.health()
	}
	if err == nil && s.store != nil && s.store.Health() != nil {
		probe := publisher.Entry{Subject: events.LedgerProbeSubject(s.origin), Stream: s.opts.LedgerName(),
			ExpiresAt: time.Now().Add(events.MinMsgTTL), MsgID: nuid.Next()}
		s.store.Append(c, []publisher.Entry{probe})
		err = s.store.Health()
	}
	if err != nil {
		msg := err.Error()
		if prev := s.problem.Swap(&msg); prev == nil || *prev != msg {
			s.log.Error().Err(err).Msg("the front cannot store revocations")
		}
		return err
	}
	if prev := s.problem.Swap(nil); prev != nil {
		s.log.Info().Msg("revocation streams and token registry available again")
	}
	return nil
}

// exist reads the three; errMissing names what is missing.
func (s *streams) exist(ctx context.Context) error {
	hint := "run `revocast init` with the operator's credentials, or start a front with --manage-streams"
	st, err := s.js.Stream(ctx, s.opts.Config().Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%w: stream %s does not exist: %s", errMissing, s.opts.Config().Name, hint)
	case err != nil:
		return fmt.Errorf("stream %s: %w", s.opts.Config().Name, err)
	}
	if s.onEpoch != nil {
		s.onEpoch(st.CachedInfo().Created)
	}
	if _, err := s.js.Stream(ctx, s.opts.LedgerName()); errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: stream %s does not exist: %s", errMissing, s.opts.LedgerName(), hint)
	} else if err != nil {
		return fmt.Errorf("stream %s: %w", s.opts.LedgerName(), err)
	}
	if _, err := s.js.KeyValue(ctx, registry.BucketConfig(s.bucket).Bucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("%w: the token registry bucket does not exist: %s", errMissing, hint)
	} else if err != nil {
		return fmt.Errorf("token registry bucket: %w", err)
	}
	return nil
}

// Ready is nil when the streams and the bucket exist.
func (s *streams) Ready() error {
	if p := s.problem.Load(); p != nil {
		return errors.New(*p)
	}
	return nil
}

// keep checks every interval until ctx is done.
func (s *streams) keep(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = s.check(ctx)
	}
}
