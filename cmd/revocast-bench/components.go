package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/revocast/revocast/internal/natsauth"
)

// front is a `revocast publisher` process.
type front struct {
	*child
	url string
}

// sidecar is a `revocast subscriber` process.
type sidecar struct {
	*child
	id, url string
}

// startFront starts a publisher as the front role with the harness's
// principal and waits until it is ready.
func (e *env) startFront(ctx context.Context, name string, extra ...string) (*front, error) {
	args := append([]string{"publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", e.url(),
		"--nats-creds", e.creds(natsauth.Front), "--config", e.h.cfgPath}, extra...)
	c, err := e.start(name, args...)
	if err != nil {
		return nil, err
	}
	u, err := c.addr(ctx, "publisher")
	if err != nil {
		return nil, err
	}
	f := &front{child: c, url: u}
	return f, waitReady(ctx, c, u)
}

// startSidecar starts a subscriber named id; it does not wait for it to be
// ready (a replay can be what is measured).
func (e *env) startSidecar(ctx context.Context, id string, extra ...string) (*sidecar, error) {
	creds, err := e.sidecarCreds(id)
	if err != nil {
		return nil, err
	}
	args := append([]string{"subscriber", "--id", id, "--subscriber-addr", "127.0.0.1:0", "--nats-url", e.url(),
		"--nats-creds", creds}, extra...)
	c, err := e.start("sidecar-"+id, args...)
	if err != nil {
		return nil, err
	}
	u, err := c.addr(ctx, "subscriber")
	if err != nil {
		return nil, err
	}
	return &sidecar{child: c, id: id, url: u}, nil
}

// startSidecars starts n sidecars named prefix-1..n and waits until every
// one is ready and the front (when given) counts them all live.
func (e *env) startSidecars(ctx context.Context, prefix string, from, n int, f *front) ([]*sidecar, error) {
	sides := make([]*sidecar, n)
	for i := range sides {
		s, err := e.startSidecar(ctx, fmt.Sprintf("%s-%d", prefix, from+i))
		if err != nil {
			return nil, err
		}
		sides[i] = s
	}
	for _, s := range sides {
		if err := waitReady(ctx, s.child, s.url); err != nil {
			return nil, err
		}
	}
	return sides, nil
}

// metrics scrapes the sidecar's /metrics; when it does not answer because
// it exited, the error says so with its log.
func (s *sidecar) metrics(ctx context.Context) (map[string]float64, error) {
	m, err := scrape(ctx, s.url)
	if err != nil && !s.alive() {
		return nil, fmt.Errorf("sidecar %s exited (%v); its log: %s", s.id, s.err, s.tail(8))
	}
	return m, err
}

// waitLive waits until the front counts n live sidecars.
func waitLive(ctx context.Context, f *front, n int) error {
	want := fmt.Sprintf("revocast_publisher_live_subscribers %d\n", n)
	return poll(ctx, 60*time.Second, 20*time.Millisecond, "the front to count "+fmt.Sprint(n)+" live sidecars", func() bool {
		b, _ := get(ctx, f.url+"/metrics")
		return strings.Contains(b, want)
	})
}

// waitReady polls /readyz until 200 (60 s at most).
func waitReady(ctx context.Context, c *child, base string) error {
	err := poll(ctx, 60*time.Second, 10*time.Millisecond, c.name+" to be ready", func() bool {
		code, _ := status(ctx, base+"/readyz")
		return code == http.StatusOK || !c.alive()
	})
	if err == nil && !c.alive() {
		err = fmt.Errorf("%s exited (%v)", c.name, c.err)
	}
	if err != nil {
		return fmt.Errorf("%w; its log: %s", err, c.tail(10))
	}
	return nil
}

// poll calls cond every interval until it holds, ctx ends or limit passes.
func poll(ctx context.Context, limit, interval time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
	return nil
}

// ctlClient is for control requests (readiness, metrics), apart from the
// load's connections.
var ctlClient = &http.Client{Timeout: 10 * time.Second}

func status(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := ctlClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := ctlClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	return string(b), nil
}

// cpuOf returns the CPU each process has used so far.
func cpuOf(ps []*sidecar) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = p.cpu()
	}
	return out
}
