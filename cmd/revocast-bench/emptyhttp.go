package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// An empty net/http server: the second baseline of the check. Its handler
// only answers 204, so the same load against it measures what net/http
// (and the load generator, and loopback) cost per request, and the gap
// between it and the sidecar's check is revocast's own work.

const emptyHTTPMode = "empty-http"

// emptyHTTPMain is the process: it serves 204 to every request on a
// loopback port (announced with a "listening" line) until SIGTERM. The
// server has the sidecar's settings (cmd/revocast/httpserver.go: timeouts,
// header limit), which decide what net/http does per connection and
// request; the handler does nothing.
func emptyHTTPMain(args []string) error {
	fs := flag.NewFlagSet(emptyHTTPMode, flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	childLog("info", emptyHTTPMode, "listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startEmptyHTTP starts the empty server as a process of the env and
// returns it and its base URL once it listens.
func (e *env) startEmptyHTTP(ctx context.Context) (*child, string, error) {
	c, err := e.startSelf(emptyHTTPMode, emptyHTTPMode)
	if err != nil {
		return nil, "", err
	}
	u, err := c.addr(ctx, emptyHTTPMode)
	if err != nil {
		return nil, "", err
	}
	return c, u, nil
}
