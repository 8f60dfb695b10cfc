package subscriber

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
)

// TokenCache is what the sidecar needs of its deny-cache (cache.DenyCache in
// production; tests may put a double behind it).
type TokenCache interface {
	// Add admits entries and returns those it could not admit.
	Add(ctx context.Context, entries []cache.Entry) []cache.Failure
	// Contains reports whether a token hash is revoked.
	Contains(sum events.Sum) bool
	// Health is non-nil once the cache lost an unexpired entry.
	Health() error
	// Stats returns counters for metrics.
	Stats() cache.Stats
	// Capacity is how many live revocations it holds at most.
	Capacity() int64
	// Clear empties it for a rebuild (and forgets its health problems).
	Clear()
}

var _ TokenCache = (*cache.DenyCache)(nil)

// Subscriber is one sidecar.
type Subscriber struct {
	cfg      Config
	nc       *nats.Conn
	js       jetstream.JetStream
	cache    TokenCache
	rules    *cache.Rules
	log      zerolog.Logger
	m        *metrics
	instance string

	ready       atomic.Bool
	readyMu     sync.Mutex
	readyCh     chan struct{} // closed once ready; replaced by a rebuild
	target      atomic.Uint64 // last sequence of the stream when the replay started
	applied     atomic.Uint64 // last sequence applied
	reported    atomic.Uint64 // last sequence whose failures are reported: the watermark fronts see
	epoch       atomic.Int64  // Unix ns of the creation of the stream being followed
	confirmedAt atomic.Int64  // Unix ns of the last confirmation that the sidecar was caught up
	fresh       *freshness    // confirmedAt within MaxStaleness, without a clock read per check
	started     time.Time

	batchMu    sync.Mutex
	batch      []item
	flushTimer *time.Timer
	ap         applyState // buffers reused by applying, and the watermark's coalescing

	failMu      sync.RWMutex
	failed      map[events.Sum]time.Time // revocations the cache refused, retried and checked directly
	failedN     atomic.Int64
	undecodable atomic.Int64
	// lost counts revocations the cache refused and the bounded side list
	// could not keep either: the sidecar can vouch for nothing until a
	// rebuild fits them.
	lost         atomic.Int64
	lostSince    atomic.Int64 // Unix ns of the first loss
	lossRebuilds atomic.Int64 // rebuilds in a row that started after a loss

	rebuild       chan string            // a reason: stop following, reset, replay from the start
	resume        chan string            // a reason: re-create the consumer after the last applied sequence
	gen           atomic.Uint64          // the consumer deliveries are accepted from
	nextConsSeq   atomic.Uint64          // the consumer sequence expected next
	streamProblem atomic.Pointer[string] // why the stream cannot be read now; nil: it can

	// Unix ns until which checks consult legacy (schema version 1) token
	// keys of JWS, and JWT ID revocations: both are live until then.
	legacyUntil atomic.Int64
	jtiUntil    atomic.Int64

	consMu   sync.Mutex
	consumer jetstream.Consumer

	up atomic.Pointer[upstream] // the mirror it reads, if it reads one (mirror.go)
}

type item struct {
	subject string // for an undecodable event's log line
	seq     uint64
	pending uint64
	ev      events.Event
	err     error
}

// New returns a sidecar reading the stream over nc into tc. Metrics are
// registered on reg.
func New(cfg Config, nc *nats.Conn, tc TokenCache, log zerolog.Logger, reg prometheus.Registerer) (*Subscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	s := &Subscriber{cfg: cfg, nc: nc, js: js, cache: tc, rules: cache.NewRules(),
		log: log.With().Str("subscriber", cfg.ID).Logger(), instance: nuid.Next(), started: time.Now(),
		failed: make(map[events.Sum]time.Time), readyCh: make(chan struct{}), rebuild: make(chan string, 1),
		resume: make(chan string, 1)}
	s.fresh = newFreshness(&s.confirmedAt, cfg.MaxStaleness)
	s.m = newMetrics(reg, s)
	return s, nil
}

// Run replays the stream, follows it, and announces presence until ctx is
// done; then it stops consuming, applies what it received, and returns. When
// its state cannot be trusted any more (see requestRebuild) it starts over:
// fails closed, empties the cache and replays the stream from the start.
func (s *Subscriber) Run(ctx context.Context) error {
	probe, err := s.nc.Subscribe(events.PresenceProbeSubject, func(*nats.Msg) { s.heartbeat() })
	if err != nil {
		return fmt.Errorf("subscriber: subscribe to presence probes: %w", err)
	}
	defer func() { _ = probe.Unsubscribe() }()
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go s.heartbeats(hbCtx)
	for {
		err := s.follow(ctx)
		if ctx.Err() != nil {
			s.log.Info().Uint64("applied_seq", s.applied.Load()).Msg("subscriber stopped")
			return nil
		}
		var rb rebuildError
		if !errors.As(err, &rb) {
			return err
		}
		s.reset(rb.reason)
	}
}

// rebuildError ends follow when the state must be rebuilt.
type rebuildError struct{ reason string }

func (e rebuildError) Error() string { return "rebuild: " + e.reason }

// requestRebuild asks Run to start over from an empty state.
func (s *Subscriber) requestRebuild(reason string) {
	select {
	case s.rebuild <- reason:
	default: // one is pending already
	}
}

// follow replays and follows the stream until ctx is done or a rebuild is
// requested, then stops the consumer and applies what it received.
func (s *Subscriber) follow(ctx context.Context) error {
	stream, err := s.waitForStream(ctx)
	if err != nil {
		return nil // ctx done while waiting: a clean stop
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return stopped(ctx, fmt.Errorf("subscriber: stream info: %w", err))
	}
	s.epoch.Store(info.Created.UnixNano())
	s.noteStream(info)
	s.target.Store(info.State.LastSeq)
	s.m.targetSeq.Set(float64(info.State.LastSeq))
	s.log.Info().Uint64("target_seq", info.State.LastSeq).Uint64("messages", info.State.Msgs).Msg("replaying revocation stream")
	if info.State.Msgs == 0 {
		s.caughtUp()
	}
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0))
	for {
		err := s.consumeOnce(ctx, stream)
		var rs resumeError
		var rb rebuildError
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case errors.As(err, &rb):
			return err
		case errors.As(err, &rs):
			// A consumer lost with its stream must not be re-created on
			// the next one after the old sequence: check the stream first.
			if reason := s.streamChanged(ctx); reason != "" {
				return rebuildError{reason}
			}
			s.m.resumes.Inc()
			s.log.Warn().Str("reason", rs.reason).Uint64("applied_seq", s.applied.Load()).
				Msg("re-creating the consumer after the last applied sequence")
			bo.Reset()
			continue
		}
		// The stream is gone or unreachable: wait for it, and replay from
		// the start if it is another one.
		s.log.Warn().Err(err).Msg("cannot read the revocation stream; retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(bo.NextBackOff()):
		}
		if stream, err = s.waitForStream(ctx); err != nil {
			return nil
		}
		if reason := s.streamChanged(ctx); reason != "" {
			return rebuildError{reason}
		}
	}
}

// reset empties every piece of state for a replay from the start. It runs
// between two follows, so nothing is being applied.
func (s *Subscriber) reset(reason string) {
	s.log.Warn().Str("reason", reason).Uint64("applied_seq", s.applied.Load()).
		Msg("rebuilding: failing closed, emptying the deny-cache and replaying the stream from the start")
	s.readyMu.Lock()
	if s.ready.Load() {
		s.readyCh = make(chan struct{})
	}
	s.ready.Store(false)
	s.readyMu.Unlock()
	s.confirmedAt.Store(0)
	s.fresh.update()
	s.batchMu.Lock()
	s.batch = nil
	s.batchMu.Unlock()
	s.cache.Clear()
	s.rules.Clear()
	s.failMu.Lock()
	s.failed = make(map[events.Sum]time.Time)
	s.failedN.Store(0)
	s.failMu.Unlock()
	if s.lost.Load() > 0 {
		s.lossRebuilds.Add(1)
	} else {
		s.lossRebuilds.Store(0)
	}
	s.lost.Store(0)
	s.undecodable.Store(0)
	s.applied.Store(0)
	s.target.Store(0)
	s.legacyUntil.Store(0)
	s.jtiUntil.Store(0)
	s.started = time.Now()
	s.m.rebuilds.Inc()
}

// stopped is nil when ctx is done (Run was asked to stop while starting),
// else err.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// waitForStream polls until the stream exists (the front creates it).
func (s *Subscriber) waitForStream(ctx context.Context) (jetstream.Stream, error) {
	bo := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(2*time.Second), backoff.WithMaxElapsedTime(0)), ctx)
	var stream jetstream.Stream
	logged := false
	err := backoff.Retry(func() error {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		st, err := s.js.Stream(c, s.cfg.Stream)
		if err != nil {
			if !logged || !errors.Is(err, jetstream.ErrStreamNotFound) {
				s.log.Info().Err(err).Str("stream", s.cfg.Stream).Msg("waiting for the revocation stream")
				logged = true
			}
			return err
		}
		stream = st
		return nil
	}, bo)
	return stream, err
}

// maintain runs the periodic work until ctx is done or a rebuild is
// requested: confirm catch-up, retry refused revocations, prune expired
// rules, and rebuild when revocations were lost to capacity (with backoff,
// so an undersized cache does not replay in a loop).
func (s *Subscriber) maintain(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	// Back on NATS after a disconnection, the stream may be another one
	// (a server restarted on an empty volume) and deliveries may have been
	// lost on the way: check and resume at once, not a heartbeat later.
	connected := s.nc.StatusChanged(nats.CONNECTED)
	defer s.nc.RemoveStatusListener(connected)
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case reason := <-s.rebuild:
			return rebuildError{reason}
		case reason := <-s.resume:
			return resumeError{reason}
		case <-connected:
			if reason := s.streamChanged(ctx); reason != "" {
				return rebuildError{reason}
			}
			return resumeError{"reconnected to NATS"}
		case <-tick.C:
		}
		if reason := s.streamChanged(ctx); reason != "" {
			return rebuildError{reason}
		}
		s.confirm(ctx)
		s.retryFailed(ctx)
		if time.Since(lastPrune) > time.Minute {
			s.rules.Prune(time.Now())
			lastPrune = time.Now()
		}
		if s.lost.Load() > 0 && time.Since(s.lostAt()) > s.rebuildBackoff() {
			return rebuildError{fmt.Sprintf("%d revocations did not fit in the deny-cache", s.lost.Load())}
		}
	}
}

// streamChanged returns why the stream is not the one this sidecar
// replayed ("" when it is): gone, deleted and re-created (another creation
// time, which is also what NATS losing its volume looks like), or holding
// less than was applied. An ordered consumer would carry on after its old
// sequence and skip the new stream's first revocations; a rebuild replays
// it from the start. A stream that is gone comes back as another one, at a
// moment the sidecar learns only later: it fails closed at once (not ready)
// rather than vouch for a stream that no longer exists, and replays the
// next one when it is there.
func (s *Subscriber) streamChanged(ctx context.Context) string {
	// What was applied before the question is in the stream the answer
	// describes; read after it, a message stored and applied meanwhile
	// looked like a stream that lost it, and rebuilt a sidecar under load.
	applied := s.applied.Load()
	c, cancel := context.WithTimeout(ctx, s.cfg.HeartbeatInterval)
	defer cancel()
	st, err := s.js.Stream(c, s.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return "the revocation stream is gone"
	}
	if err != nil {
		// Unreachable or JetStream down (a full disk, no meta leader): said
		// on /readyz; the sidecar answers from what it confirmed until
		// --max-staleness, like any other cut-off.
		msg := "the revocation stream is unavailable: " + err.Error()
		if prev := s.streamProblem.Swap(&msg); prev == nil {
			s.log.Warn().Err(err).Str("stream", s.cfg.Stream).Msg("the revocation stream is unavailable")
		}
		return ""
	}
	if s.streamProblem.Swap(nil) != nil {
		s.log.Info().Str("stream", s.cfg.Stream).Msg("the revocation stream is available again")
	}
	info := st.CachedInfo()
	s.noteStream(info)
	switch {
	case info.Created.UnixNano() != s.epoch.Load():
		return fmt.Sprintf("the stream was re-created (created %s, replayed one created %s)",
			info.Created.UTC().Format(time.RFC3339Nano), time.Unix(0, s.epoch.Load()).UTC().Format(time.RFC3339Nano))
	case info.State.LastSeq < applied:
		return fmt.Sprintf("the stream's last sequence %d is below the %d applied", info.State.LastSeq, applied)
	}
	return ""
}

// confirm asks the server whether anything is left to deliver; if not and
// everything delivered is applied, the sidecar is caught up now.
func (s *Subscriber) confirm(ctx context.Context) {
	s.consMu.Lock()
	cons := s.consumer
	s.consMu.Unlock()
	if cons == nil {
		return
	}
	c, cancel := context.WithTimeout(ctx, s.cfg.HeartbeatInterval)
	defer cancel()
	info, err := cons.Info(c)
	if err != nil {
		return
	}
	s.batchMu.Lock()
	empty := len(s.batch) == 0
	s.batchMu.Unlock()
	if info.NumPending == 0 && empty && s.applied.Load() >= info.Delivered.Stream {
		s.caughtUp()
	}
}

// caughtUp records that nothing was left to apply just now.
func (s *Subscriber) caughtUp() {
	s.confirmAt(s.currentAt(time.Now()))
	s.markReady()
}

// WaitReady blocks until the sidecar has replayed the stream (it is ready)
// or ctx is done.
func (s *Subscriber) WaitReady(ctx context.Context) error {
	s.readyMu.Lock()
	ch := s.readyCh
	s.readyMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Subscriber) markReady() {
	s.readyMu.Lock()
	became := s.ready.CompareAndSwap(false, true)
	if became {
		close(s.readyCh)
	}
	s.readyMu.Unlock()
	if became {
		s.log.Info().Uint64("applied_seq", s.applied.Load()).Uint64("target_seq", s.target.Load()).
			Int64("cache_entries", s.cache.Stats().Entries).Int("rules", s.rules.Len()).
			Int64("took_ms", time.Since(s.started).Milliseconds()).Msg("replay complete: ready")
		s.confirmAt(s.currentAt(time.Now()))
		s.heartbeat()
	}
}
