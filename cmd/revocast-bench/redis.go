package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNoRedis: redis-server is not installed (make bench installs it).
var errNoRedis = errors.New("redis-server not installed (apt-get install redis-server; make bench and .ci/run install it)")

// findRedis returns the redis-server binary, or errNoRedis.
func findRedis(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errNoRedis
}

// redisServer is a redis-server process on a loopback port, without
// persistence (a deny-list cache, as deployed beside a resource server).
type redisServer struct {
	bin, dir string
	port     int
	proc     *child
}

// startRedis starts redis-server in dir on a free port.
func (h *harness) startRedis(ctx context.Context, dir string) (*redisServer, error) {
	bin, err := findRedis(h.opt.redis)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{bin: bin, dir: dir, port: port}
	return r, r.start(ctx)
}

func (r *redisServer) start(ctx context.Context) error {
	c, err := startChild(r.dir, "redis-"+strconv.Itoa(r.port), r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--protected-mode", "yes")
	if err != nil {
		return err
	}
	r.proc = c
	cl := r.client(1)
	defer cl.Close()
	return poll(ctx, 20*time.Second, 10*time.Millisecond, "redis-server to answer", func() bool {
		return cl.Ping(ctx).Err() == nil || !c.alive()
	})
}

// stop stops the server (SIGTERM: without persistence it exits at once).
func (r *redisServer) stop() {
	if r.proc != nil {
		r.proc.stop()
	}
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// client returns a go-redis client with a pool of n connections.
func (r *redisServer) client(n int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.addr(), PoolSize: n, MinIdleConns: n, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
}

// redisVersion returns what redis-server --version says.
func redisVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return strings.TrimSpace(string(out))
}

// denyKey is a revoked token's key in the Redis deny-list.
func denyKey(hexKey string) string { return "deny:" + hexKey }

// loadDenyList puts n revoked tokens' keys in Redis with a TTL, pipelined.
func loadDenyList(ctx context.Context, cl *redis.Client, n int, token func(i int) string) error {
	for from := 0; from < n; from += 1000 {
		p := cl.Pipeline()
		for i := from; i < min(from+1000, n); i++ {
			p.Set(ctx, denyKey(opaqueKey(token(i))), "1", time.Hour)
		}
		if _, err := p.Exec(ctx); err != nil {
			return fmt.Errorf("redis deny-list: %w", err)
		}
	}
	return nil
}
