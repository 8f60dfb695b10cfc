package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natsconn"
	"github.com/revocast/revocast/publisher/server"
)

const shutdownTimeout = 10 * time.Second

func wrapHTTP(log zerolog.Logger, h http.Handler) http.Handler { return server.Wrap(log, nil, h) }

// drain flushes and closes a NATS connection, waiting up to 5s.
func drain(nc *nats.Conn) {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		nc.Close()
	}
}

func runPublisher(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var c commonOpts
	var p pubOpts
	var t tlsOpts
	fs := newFlagSet("publisher", "The HTTP front: accepts revocations in four formats and stores them in JetStream.", stderr)
	c.register(fs, true)
	p.register(fs)
	t.register(fs, false)
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	c.natsAuth.Password = getenv(natsPasswordEnv)
	p.noteExplicit(fs)
	if err := errors.Join(c.validate(), p.validate(), t.validate()); err != nil {
		return usageErr(err)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return usageErr(err)
	}
	if len(cfg.auth.Credentials) == 0 {
		return usageErr(errors.New("--config must name at least one principal: the front refuses every request without one (see README, revocast hash-secret)"))
	}
	log, err := newLogger(c.logFormat, c.logLevel, stderr)
	if err != nil {
		return usageErr(err)
	}
	stopPprof, err := startPprof(c.pprofAddr, log)
	if err != nil {
		return usageErr(fmt.Errorf("--pprof-addr %q: %w", c.pprofAddr, err))
	}
	defer stopPprof()
	log = log.With().Str("component", "publisher").Logger()
	tlsCfg, err := t.serverConfig(log)
	if err != nil {
		return usageErr(err)
	}
	srv, err := startHTTP(p.addr, tlsCfg, log)
	if err != nil {
		return err
	}
	fatal := newFatal(ctx)
	defer fatal.cancel()
	nc, err := natsconn.Connect(natsconn.Options{URLs: c.natsURL, Name: "revocast-publisher", Auth: c.natsAuth,
		InboxPrefix: natsauth.InboxPrefix(natsauth.Front, ""), OnTooOld: fatal.stop}, log)
	if err != nil {
		srv.shutdown(time.Second)
		return err
	}
	var adminNC *nats.Conn
	if p.operatorCreds != "" {
		// Stream administration on its own connection, as the operator;
		// request handling never holds those rights.
		auth := c.natsAuth
		auth.CredsFile, auth.NkeyFile, auth.User, auth.Password = p.operatorCreds, "", "", ""
		adminNC, err = natsconn.Connect(natsconn.Options{URLs: c.natsURL, Name: "revocast-publisher-operator", Auth: auth,
			InboxPrefix: natsauth.InboxPrefix(natsauth.Operator, "")}, log)
		if err != nil {
			srv.shutdown(time.Second)
			nc.Close()
			return err
		}
		defer drain(adminNC)
	}
	f, err := newFront(c, p, cfg, nil, nc, adminNC, nil, log)
	if err != nil {
		srv.shutdown(time.Second)
		nc.Close()
		return err
	}
	srv.set(f.handler)
	<-fatal.ctx.Done()
	log.Info().Msg("shutting down: finishing in-flight requests")
	srv.shutdown(shutdownTimeout)
	f.close()
	drain(nc)
	log.Info().Msg("stopped")
	return fatal.err()
}

func runSubscriber(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var c commonOpts
	var s subOpts
	var t tlsOpts
	var g grpcOpts
	fs := newFlagSet("subscriber", "The sidecar: replays and follows the revocation stream and answers /v1/check.", stderr)
	c.register(fs, true)
	s.register(fs, "")
	t.register(fs, true)
	g.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	c.natsAuth.Password = getenv(natsPasswordEnv)
	if err := errors.Join(c.validate(), s.validate(c.stream), t.validate()); err != nil {
		return usageErr(err)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return usageErr(err)
	}
	log, err := newLogger(c.logFormat, c.logLevel, stderr)
	if err != nil {
		return usageErr(err)
	}
	stopPprof, err := startPprof(c.pprofAddr, log)
	if err != nil {
		return usageErr(fmt.Errorf("--pprof-addr %q: %w", c.pprofAddr, err))
	}
	defer stopPprof()
	root := log
	log = log.With().Str("component", "subscriber").Logger()
	tlsCfg, err := t.serverConfig(log)
	if err == nil {
		tlsCfg, err = t.sidecarConfig(tlsCfg)
	}
	if err != nil {
		return usageErr(err)
	}
	srv, err := startHTTP(s.addr, tlsCfg, log)
	if err != nil {
		return err
	}
	fatal := newFatal(ctx)
	defer fatal.cancel()
	nc, err := natsconn.Connect(natsconn.Options{URLs: c.natsURL, Name: "revocast-subscriber-" + s.id, Auth: c.natsAuth,
		InboxPrefix: natsauth.InboxPrefix(natsauth.Sidecar, s.id), OnTooOld: fatal.stop}, log)
	if err != nil {
		srv.shutdown(time.Second)
		return err
	}
	sc, err := newSidecar(c, s, cfg, nc, log, clientCertGuard(tlsCfg))
	if err != nil {
		srv.shutdown(time.Second)
		nc.Close()
		return err
	}
	grpcSrv, err := startGRPC(g.addr, sc.sub, tlsCfg, root.With().Str("component", "grpc").Logger())
	if err != nil {
		srv.shutdown(time.Second)
		sc.cache.Close()
		nc.Close()
		return err
	}
	srv.set(sc.handler)
	stop := sc.run(fatal.ctx)
	log.Info().Msg("shutting down")
	srv.shutdown(shutdownTimeout)
	grpcSrv.stop(shutdownTimeout)
	err = stop()
	drain(nc)
	log.Info().Msg("stopped")
	if ferr := fatal.err(); ferr != nil {
		return ferr
	}
	return err
}

// fatal stops a command from inside (a NATS server too old to work with)
// and remembers why.
type fatal struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	cause  error
}

func newFatal(parent context.Context) *fatal {
	f := &fatal{}
	f.ctx, f.cancel = context.WithCancel(parent)
	return f
}

func (f *fatal) stop(err error) {
	f.mu.Lock()
	if f.cause == nil {
		f.cause = err
	}
	f.mu.Unlock()
	f.cancel()
}

func (f *fatal) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cause
}
