package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/revocast/revocast/internal/natsauth"
)

// env is one measure's world: an embedded NATS server (JetStream on file
// storage in its own directory, in operator mode with a fresh trust), the
// streams made by `revocast init`, and the processes started on it.
type env struct {
	h        *harness
	dir      string
	trustDir string
	trust    *natsauth.Trust
	port     int

	mu       sync.Mutex
	ns       *server.Server
	children []*child
}

// newEnv starts a NATS server and creates the streams as the operator.
func (h *harness) newEnv(ctx context.Context, name string) (*env, error) {
	dir := filepath.Join(h.work, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("env %s: %w", name, err)
	}
	e := &env{h: h, dir: dir, trustDir: filepath.Join(dir, "trust")}
	// What `revocast nats-init` does: an operator, the accounts, one signing
	// key per role, operator.creds and front.creds.
	t, _, err := natsauth.Init(e.trustDir)
	if err != nil {
		return nil, fmt.Errorf("env %s: %w", name, err)
	}
	e.trust = t
	if e.port, err = freePort(); err != nil {
		return nil, fmt.Errorf("env %s: %w", name, err)
	}
	if err := e.startNATS(); err != nil {
		return nil, err
	}
	h.envs = append(h.envs, e)
	// Stream administration as in production: revocast init, the operator's identity.
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, h.opt.bin, "init", "--nats-url", e.url(),
		"--nats-creds", e.creds(natsauth.Operator)).CombinedOutput()
	if err != nil {
		e.close()
		return nil, fmt.Errorf("revocast init: %w: %s", err, out)
	}
	return e, nil
}

func (e *env) url() string { return "nats://127.0.0.1:" + strconv.Itoa(e.port) }

// creds returns the credentials file of the operator or front role.
func (e *env) creds(r natsauth.Role) string { return filepath.Join(e.trustDir, natsauth.CredsFile(r)) }

// sidecarCreds mints a sidecar's credentials as `revocast nats-creds` does.
func (e *env) sidecarCreds(id string) (string, error) {
	path := filepath.Join(e.trustDir, "sidecar-"+id+".creds")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	b, err := natsauth.Mint(e.trustDir, natsauth.Sidecar, id, nil)
	if err != nil {
		return "", fmt.Errorf("credentials of sidecar %s: %w", id, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", fmt.Errorf("credentials of sidecar %s: %w", id, err)
	}
	return path, nil
}

// startNATS starts (or starts again, on the same port and store) the server.
func (e *env) startNATS() error {
	opts := &server.Options{ServerName: "revocast-bench", Host: "127.0.0.1", Port: e.port, JetStream: true,
		StoreDir: filepath.Join(e.dir, "nats"), NoSigs: true, NoLog: true}
	if err := e.trust.ConfigureServer(opts); err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return errors.New("embedded NATS did not start within 30s")
	}
	e.mu.Lock()
	e.ns = ns
	e.mu.Unlock()
	return nil
}

// stopNATS shuts the server down and waits until it is gone.
func (e *env) stopNATS() {
	e.mu.Lock()
	ns := e.ns
	e.ns = nil
	e.mu.Unlock()
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// connect opens a connection of role r (name: a sidecar's id) over TCP, as
// the processes connect.
func (e *env) connect(r natsauth.Role, name, creds string) (*nats.Conn, error) {
	opts := append(natsauth.ClientOptions(creds, r, name), nats.Name("revocast-bench-"+string(r)),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	nc, err := nats.Connect(e.url(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", r, err)
	}
	return nc, nil
}

// start runs the binary with args as a process of this env.
func (e *env) start(name string, args ...string) (*child, error) {
	return e.adopt(startChild(e.dir, name, e.h.opt.bin, args...))
}

// adopt makes a started child one of this env's processes (stopped by close).
func (e *env) adopt(c *child, err error) (*child, error) {
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.children = append(e.children, c)
	e.mu.Unlock()
	return c, nil
}

// close stops every process, then the server.
func (e *env) close() {
	e.mu.Lock()
	cs := e.children
	e.children = nil
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop()
		}()
	}
	wg.Wait()
	e.stopNATS()
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
