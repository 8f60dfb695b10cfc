package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natsconn"
)

type devOpts struct {
	dataDir      string
	takeTerminal bool
	natsListen   string
}

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonOpts
	var p pubOpts
	var s subOpts
	var d devOpts
	var t tlsOpts
	var g grpcOpts
	fs := newFlagSet("dev", "Everything on one machine: an embedded NATS server with JetStream, the HTTP front and one sidecar.", stderr)
	c.register(fs, false)
	p.register(fs)
	s.register(fs, "dev")
	t.register(fs, true) // one pair for the front and the sidecar; the client CA is the sidecar's
	g.register(fs)
	fs.StringVar(&d.dataDir, "data-dir", "./data", "where the embedded JetStream keeps the stream")
	fs.BoolVar(&d.takeTerminal, "take-terminal", false,
		"become the terminal's foreground process group, so Ctrl-C stops revocast cleanly and not the make that started it (make run sets it)")
	fs.StringVar(&d.natsListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server (port 0: any free port)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	if d.takeTerminal {
		defer takeTerminal()()
	}
	p.noteExplicit(fs)
	p.manageStreams = true // dev is its own operator
	if err := errors.Join(c.validate(), p.validate(), s.validate(c.stream), t.validate()); err != nil {
		return usageErr(err)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return usageErr(err)
	}
	if err := os.MkdirAll(d.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	admin, tellAdmin, err := devAdmin(d.dataDir, c.configPath != "", getenv)
	if err != nil {
		return usageErr(err)
	}
	host, port, err := splitListen(d.natsListen)
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
	pubLog := log.With().Str("component", "publisher").Logger()
	subLog := log.With().Str("component", "subscriber").Logger()
	pubTLS, err := t.serverConfig(log)
	if err != nil {
		return usageErr(err)
	}
	subTLS, err := t.sidecarConfig(pubTLS)
	if err != nil {
		return usageErr(err)
	}

	// Listen first: both answer 503 on /readyz until they are ready.
	pubSrv, err := startHTTP(p.addr, pubTLS, pubLog)
	if err != nil {
		return err
	}
	subSrv, err := startHTTP(s.addr, subTLS, subLog)
	if err != nil {
		pubSrv.shutdown(time.Second)
		return err
	}
	trust, err := devTrust(d.dataDir, s.id)
	if err != nil {
		pubSrv.shutdown(time.Second)
		subSrv.shutdown(time.Second)
		return err
	}
	ns, err := startEmbeddedNATS(d.dataDir, host, port, trust.trust, log.With().Str("component", "nats").Logger())
	if err != nil {
		pubSrv.shutdown(time.Second)
		subSrv.shutdown(time.Second)
		return err
	}
	jsHealth := &jsWatch{log: log.With().Str("component", "nats").Logger()}
	ns.SetLoggerV2(jsHealth, false, false, false)
	jsCtx, stopKeeping := context.WithCancel(context.Background())
	keeping := make(chan struct{})
	go func() {
		defer close(keeping)
		jsHealth.keep(jsCtx, ns)
	}()
	defer func() {
		stopKeeping()
		<-keeping
		ns.Shutdown()
		ns.WaitForShutdown()
		log.Info().Msg("stopped")
	}()
	// Every component connects in-process, as the role it plays.
	connect := func(name string, creds []byte, r natsauth.Role, id string, l zerolog.Logger) (*nats.Conn, error) {
		opts, err := natsauth.CredsOptions(creds, r, id)
		if err != nil {
			return nil, err
		}
		return natsconn.Connect(natsconn.Options{Name: name, Extra: append(opts, nats.InProcessServer(ns))}, l)
	}
	opNC, err := connect("revocast-operator", trust.operator, natsauth.Operator, "", pubLog)
	if err != nil {
		return err
	}
	defer drain(opNC)
	pubNC, err := connect("revocast-publisher", trust.front, natsauth.Front, "", pubLog)
	if err != nil {
		return err
	}
	defer drain(pubNC)
	subNC, err := connect("revocast-subscriber-"+s.id, trust.sidecar, natsauth.Sidecar, s.id, subLog)
	if err != nil {
		return err
	}
	defer drain(subNC)

	f, err := newFront(c, p, cfg, admin, pubNC, opNC, jsHealth.err, pubLog)
	if err != nil {
		return err
	}
	defer f.close()
	sc, err := newSidecar(c, s, cfg, subNC, subLog, clientCertGuard(subTLS))
	if err != nil {
		return err
	}
	grpcSrv, err := startGRPC(g.addr, sc.sub, subTLS, log.With().Str("component", "grpc").Logger())
	if err != nil {
		sc.cache.Close()
		return err
	}
	pubSrv.set(f.handler)
	subSrv.set(sc.handler)
	fmt.Fprintf(stdout, "revocast dev: front on %s://%s, sidecar on %s://%s, NATS on %s, data in %s\n",
		scheme(pubTLS), pubSrv.ln.Addr(), scheme(subTLS), subSrv.ln.Addr(), ns.ClientURL(), d.dataDir)
	tellAdmin(stdout, scheme(pubTLS)+"://"+pubSrv.ln.Addr().String())
	trust.tell(stdout, ns.ClientURL())
	stop := sc.run(ctx)

	log.Info().Msg("shutting down: finishing in-flight requests")
	pubSrv.shutdown(shutdownTimeout)
	subSrv.shutdown(shutdownTimeout)
	grpcSrv.stop(shutdownTimeout)
	return stop()
}

func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("--nats-listen: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("--nats-listen: bad port %q", p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// startEmbeddedNATS starts a JetStream server keeping its data under
// dataDir/jetstream and logs its client URL ("nats listening", with url).
func startEmbeddedNATS(dataDir, host string, port int, trust *natsauth.Trust, log zerolog.Logger) (*server.Server, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	opts := &server.Options{
		ServerName: "revocast-dev",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   abs,
		NoSigs:     true,
		NoLog:      true,
	}
	// Operator mode: no anonymous client, every identity confined to its role.
	if err := trust.ConfigureServer(opts); err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS did not start within 30s (is --nats-listen in use?)")
	}
	log.Info().Str("url", ns.ClientURL()).Str("data_dir", abs).Msg("nats listening")
	return ns, nil
}
