package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
	"github.com/revocast/revocast/publisher/registry"
	"github.com/revocast/revocast/publisher/server"
)

// front is the HTTP front wired to NATS.
type front struct {
	handler  http.Handler
	core     *publisher.Core
	tracker  *publisher.Tracker
	store    *publisher.JetStreamStore
	registry *lazyRegistry
	stop     context.CancelFunc
	busSub   func() *nats.Subscription
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newFront builds the front on nc: it ensures the stream in the background
// (the front is ready once it exists) and tracks sidecars.
// newFront builds the front on nc; with --manage-streams, stream
// administration goes through adminNC (the operator's identity; nil: nc).
// health, when set, adds what the NATS server itself knows to readiness
// (revocast dev's embedded server).
func newFront(c commonOpts, o pubOpts, cfg *config, extra []auth.Credential, nc, adminNC *nats.Conn, health func() error,
	log zerolog.Logger) (*front, error) {
	ac := cfg.auth
	ac.Credentials = append(append([]auth.Credential(nil), ac.Credentials...), extra...)
	store, err := auth.NewStore(ac)
	if err != nil {
		return nil, err
	}
	maxBody := int64(o.maxBody)
	if cfg.maxBody > 0 && !o.maxBodySet {
		maxBody = cfg.maxBody
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	promReg := newRegistry()
	m := publisher.NewMetrics(promReg)
	origin := nuid.Next()
	tracker, err := publisher.NewTracker(nc, publisher.TrackerConfig{Origin: origin, PresenceTimeout: o.presenceTimeout,
		MaxSidecars: o.maxSidecars,
		OnLive:      func(n int) { m.LiveSubscribers.Set(float64(n)) },
		OnConflicts: func(ids []string) { m.SidecarConflicts.Set(float64(len(ids))) },
		OnRefused:   func() { m.SidecarsRefused.Inc() }, Stream: c.stream}, log)
	if err != nil {
		return nil, err
	}
	jsStore, err := publisher.NewJetStreamStore(nc, o.publishTimeout, m.StoreMetrics())
	if err != nil {
		tracker.Close()
		return nil, err
	}
	reg := &lazyRegistry{}
	mode, _ := registryMode(o.registry) // validated with the flags
	budget := publisher.NewBudget(cfg.quotas, tracker.Loads)
	ledger := c.streamOptions(o.dedupWindow).LedgerName()
	core := publisher.NewCore(publisher.Config{Origin: origin, MaxTokenLifetime: c.lifetime,
		PropagationTimeout: o.propagationTimeout, IssuerRealms: cfg.issuerRealms, Registry: reg, Mode: mode,
		Budget: budget, Stream: c.stream, Ledger: ledger}, jsStore, tracker, log, m)
	feed := registry.NewHandler(reg, registry.Options{Auth: store, MaxBody: int64(o.maxRegistryBody),
		MaxLines: o.maxRegistryLines, MaxTokenLifetime: c.lifetime, Log: log, Counted: func(ok, refused int) {
			m.Registered.Add(float64(ok))
			m.RegistryRefused.Add(float64(refused))
		}})

	adminJS := js
	if adminNC != nil {
		if adminJS, err = jetstream.New(adminNC); err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	keeper := &streams{js: js, admin: adminJS, opts: c.streamOptions(o.dedupWindow), manage: o.manageStreams, log: log,
		bucket: registry.StoreOptions{Replicas: c.replicas, Timeout: o.publishTimeout}, onEpoch: tracker.SetEpoch,
		store: jsStore, origin: origin, health: health}
	msg := "starting"
	keeper.problem.Store(&msg)
	var streamReady atomic.Bool
	var busSub atomic.Pointer[nats.Subscription]
	go func() {
		if o.manageStreams {
			// Apply the current definitions once (replicas, limits); later
			// checks only re-create what is missing.
			bo := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
				backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0)), ctx)
			_ = backoff.RetryNotify(func() error {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				return ensure(cctx, adminJS, keeper.opts, keeper.bucket)
			}, bo, func(err error, next time.Duration) {
				log.Warn().Err(err).Dur("retry_in_ms", next).Msg("cannot create the revocation streams or the token registry yet")
			})
		}
		bo := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
			backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0)), ctx)
		err := backoff.Retry(func() error {
			if err := keeper.check(ctx); err != nil {
				return err
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			rs, err := registry.Open(cctx, nc, keeper.bucket)
			if err != nil {
				return err
			}
			reg.s.Store(rs)
			return nil
		}, bo)
		if err != nil {
			return
		}
		go budget.Follow(ctx, js, ledger, log)
		sub, err := feed.Serve(nc)
		if err != nil {
			log.Error().Err(err).Msg("cannot serve the registry subjects")
		} else {
			busSub.Store(sub)
		}
		streamReady.Store(true)
		log.Info().Str("stream", c.stream).Int("replicas", c.replicas).Str("registry", string(mode)).
			Msg("revocation stream and token registry ready")
		keeper.keep(ctx, 2*time.Second)
	}()
	ready := func() error {
		switch {
		case !nc.IsConnected():
			return errors.New("not connected to NATS")
		case !streamReady.Load():
			if err := keeper.Ready(); err != nil {
				return err
			}
			return errors.New("opening the token registry")
		case keeper.Ready() != nil:
			return keeper.Ready()
		case !budget.Ready():
			return errors.New("counting the live revocations in the ledger")
		}
		return nil
	}
	warnings := func() []string {
		var out []string
		for _, id := range tracker.Conflicts() {
			out = append(out, fmt.Sprintf("sidecar id %q is announced by two live instances: neither confirms revocations; give each sidecar its own --id", id))
		}
		return out
	}
	h := server.New(server.Options{Core: core, Auth: store, Log: log, Metrics: m, Gatherer: promReg, Ready: ready, Warnings: warnings,
		MaxBody: maxBody, Registry: feed, TrustedProxies: cfg.trustedProxies})
	return &front{handler: h, core: core, tracker: tracker, store: jsStore, registry: reg, stop: stop,
		busSub: func() *nats.Subscription { return busSub.Load() }}, nil
}

func (f *front) close() {
	f.stop()
	if s := f.busSub(); s != nil {
		_ = s.Drain()
	}
	f.tracker.Close()
	f.store.Close()
	f.registry.close()
}
