package main

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/subscriber"
)

// sidecar is a subscriber with its cache and HTTP API.
type sidecar struct {
	sub     *subscriber.Subscriber
	cache   *cache.DenyCache
	handler http.Handler
	done    chan error
}

// newSidecar builds the sidecar; guard (nil: none) wraps its whole HTTP API
// (requireClientCert under mutual TLS).
func newSidecar(c commonOpts, o subOpts, cfg *config, nc *nats.Conn, log zerolog.Logger,
	guard func(http.Handler) http.Handler) (*sidecar, error) {
	dc, err := cache.New(cache.Config{Capacity: o.capacity, OnCapacityExhausted: func(cache.Entry) {
		log.Error().Msg("deny-cache capacity exhausted: an unexpired revocation was evicted; raise --cache-capacity")
	}})
	if err != nil {
		return nil, err
	}
	reg := newRegistry()
	conf := o.config(c.stream, c.lifetime, cfg.issuerRealms)
	conf.UserClaims = cfg.userClaims
	sub, err := subscriber.New(conf, nc, dc, log, reg)
	if err != nil {
		dc.Close()
		return nil, err
	}
	full := wrapHTTP(log, sub.Handler(reg))
	// GET /v1/check is the hot route: served directly, without the access
	// log and the mux (checks are counted in metrics, not logged).
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/check" {
			sub.ServeCheck(w, r)
			return
		}
		full.ServeHTTP(w, r)
	}))
	if guard != nil {
		h = guard(h)
	}
	return &sidecar{sub: sub, cache: dc, handler: h, done: make(chan error, 1)}, nil
}

// run starts the subscriber and returns once ctx is done or it failed. The
// HTTP server must be stopped before stop is called: stop closes the cache.
func (s *sidecar) run(ctx context.Context) (stop func() error) {
	runCtx, cancel := context.WithCancel(context.Background())
	go func() { s.done <- s.sub.Run(runCtx) }()
	var early error
	select {
	case <-ctx.Done():
	case early = <-s.done:
	}
	return func() error {
		cancel()
		err := early
		if err == nil {
			err = <-s.done
		}
		s.cache.Close()
		return err
	}
}
