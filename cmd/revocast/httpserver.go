package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// httpServer listens first (so /readyz can say 503 while the rest starts)
// and serves a handler that can be swapped in once it is built.
type httpServer struct {
	srv  *http.Server
	ln   net.Listener
	h    atomic.Pointer[http.Handler]
	done chan error
	log  zerolog.Logger
}

// startHTTP binds addr, logs the bound address ("listening", with addr) and
// serves a "starting" answer (503) until set is called; HTTPS when tlsCfg
// is set.
func startHTTP(addr string, tlsCfg *tls.Config, log zerolog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s := &httpServer{ln: ln, done: make(chan error, 1), log: log}
	starting := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		code := http.StatusServiceUnavailable
		if r.URL.Path == "/healthz" {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": false, "reason": "starting"})
	}))
	s.h.Store(&starting)
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(serverErrors{log}, "", 0),
		TLSConfig:         tlsCfg,
	}
	go func() {
		var err error
		if tlsCfg != nil {
			err = s.srv.ServeTLS(ln, "", "") // the certificate comes from tlsCfg
		} else {
			err = s.srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	log.Info().Str("addr", ln.Addr().String()).Bool("tls", tlsCfg != nil).Msg("listening")
	return s, nil
}

func (s *httpServer) set(h http.Handler) { s.h.Store(&h) }

// shutdown stops accepting and waits up to timeout for in-flight requests
// (revocations being stored) to finish.
func (s *httpServer) shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.log.Warn().Err(err).Msg("HTTP shutdown did not finish in time")
		_ = s.srv.Close()
	}
	if err := <-s.done; err != nil {
		s.log.Error().Err(err).Msg("HTTP server failed")
	}
}

// serverErrors puts net/http's own messages (failed TLS handshakes, bad
// connections) into the JSON log instead of plain lines on stderr. They
// name peers and errors, never a request's headers.
type serverErrors struct{ log zerolog.Logger }

func (w serverErrors) Write(b []byte) (int, error) {
	w.log.Info().Str("error", strings.TrimSpace(string(b))).Msg("http connection error")
	return len(b), nil
}
