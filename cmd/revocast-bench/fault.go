package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// measureFault: the same fixed stream of revocations through revocast and
// through a Redis pub/sub deny-list, each bus restarted in the middle;
// then how many of them each side denies.
func (h *harness) measureFault(ctx context.Context) error {
	n, rate, down := h.sc.faultN, h.sc.faultRate, h.sc.faultDown
	h.progress("fault: revocast: %d revocations at %d/s, NATS restarted in the middle (down %s)", n, rate, down)
	rc, err := h.faultRevocast(ctx)
	if err != nil {
		return err
	}
	h.progress("fault: revocast denies %s", rc)
	m := fmt.Sprintf("rival under fault: %s revocations at %d/s, the bus restarted in the middle (down %s): denied at the end", count(n), rate, down)
	// A revocation the front answered 200 for is stored: it must be denied.
	ok := met(rc.accepted > 0 && rc.deniedAccepted == rc.accepted)
	h.progress("fault: Redis pub/sub deny-list: the same, redis-server restarted in the middle")
	rv, err := h.faultRival(ctx)
	switch {
	case errors.Is(err, errNoRedis):
		h.add(row{measure: m, figure: "revocast " + rc.String(), baseline: "not measured: " + err.Error(),
			ratio: "—", target: "revocast loses none it accepted", met: ok})
		return nil
	case err != nil:
		return err
	}
	h.progress("fault: the Redis pub/sub subscriber denies %s", rv)
	h.add(row{measure: m, figure: "revocast " + rc.String(),
		baseline: fmt.Sprintf("Redis pub/sub %s: lost %d", rv, rv.accepted-rv.deniedAccepted), ratio: "—",
		target: "revocast loses none it accepted", met: ok})
	return nil
}

// sent is what sendAll saw.
type sent struct {
	accepted []bool // by item: its bus accepted it (a 200, a PUBLISH answered)
	failed   int    // never accepted
	refused  int    // attempts refused or timed out (then retried)
	firstErr error
}

// sendAll calls send for n items at a fixed rate, one after another, each
// retried every 50 ms until it succeeds (for at most 40 s): a publisher that
// keeps trying while its bus is down.
func sendAll(ctx context.Context, n, rate int, send func(i int) error) sent {
	s := sent{accepted: make([]bool, n)}
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		deadline := time.Now().Add(40 * time.Second)
		for {
			err := send(i)
			if err == nil {
				s.accepted[i] = true
				break
			}
			s.refused++
			if s.firstErr == nil {
				s.firstErr = err
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				s.failed++
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

// report notes what the publisher met.
func (s sent) report(h *harness, who string, n int) {
	if s.refused > 0 {
		h.note("fault: %s refused %d attempts (retried; first: %.200s)", who, s.refused, oneLine(s.firstErr))
	}
	if s.failed > 0 {
		h.note("fault: %s never accepted %d of %d revocations within 40 s", who, s.failed, n)
	}
}

// tally is how many of the revocations a side denies at the end.
type tally struct{ denied, deniedAccepted, accepted, n int }

func (t tally) String() string {
	if t.accepted == t.n {
		return fmt.Sprintf("%d of %d", t.denied, t.n)
	}
	return fmt.Sprintf("%d of %d (%d of the %d accepted)", t.denied, t.n, t.deniedAccepted, t.accepted)
}

// count tallies the items deny says are denied.
func (s sent) count(deny func(i int) bool) tally {
	t := tally{n: len(s.accepted)}
	for i, acc := range s.accepted {
		d := deny(i)
		if d {
			t.denied++
		}
		if acc {
			t.accepted++
			if d {
				t.deniedAccepted++
			}
		}
	}
	return t
}

// faultRevocast runs the fault through a front and a sidecar.
func (h *harness) faultRevocast(ctx context.Context) (tally, error) {
	e, err := h.newEnv(ctx, "fault")
	if err != nil {
		return tally{}, err
	}
	defer e.close()
	f, err := e.startFront(ctx, "front")
	if err != nil {
		return tally{}, err
	}
	sides, err := e.startSidecars(ctx, "side", 1, 1, f)
	if err != nil {
		return tally{}, err
	}
	if err := waitLive(ctx, f, 1); err != nil {
		return tally{}, err
	}
	n, rate := h.sc.faultN, h.sc.faultRate
	token := func(i int) string { return fmt.Sprintf("fault-%s-%d", h.nonce, i) }
	client := loadClient(8)
	// An attempt the front has not answered after its publish timeout (10 s)
	// and propagation wait is retried, not waited for.
	client.Timeout = 15 * time.Second
	var wg sync.WaitGroup
	wg.Add(1)
	var restartErr error
	go func() {
		defer wg.Done()
		time.Sleep(time.Duration(n/2) * time.Second / time.Duration(rate))
		e.stopNATS()
		time.Sleep(h.sc.faultDown)
		restartErr = e.startNATS()
	}()
	start := time.Now()
	s := sendAll(ctx, n, rate, func(i int) error {
		_, err := h.revokeToken(ctx, client, f.url, token(i))
		return err
	})
	wg.Wait()
	if restartErr != nil {
		return tally{}, restartErr
	}
	h.progress("fault: revocast: sent in %s; checking the sidecar", secs(time.Since(start)))
	s.report(h, "the front", n)
	side := sides[0]
	if err := waitReady(ctx, side.child, side.url); err != nil {
		return tally{}, err
	}
	// Give the sidecar until the last revocation is enforced (or 10 s).
	_ = poll(ctx, 10*time.Second, 10*time.Millisecond, "the last revocation", func() bool {
		code, _ := check(ctx, client, side.url, token(n-1))
		return code == http.StatusUnauthorized
	})
	return s.count(func(i int) bool {
		code, err := check(ctx, client, side.url, token(i))
		return err == nil && code == http.StatusUnauthorized
	}), nil
}

// quiet drops go-redis' own log lines (reconnection errors are expected here).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// faultRival runs the fault through a Redis pub/sub deny-list: a
// subscriber that adds every revoked hash it receives to a local set and
// reconnects after errors (backoff from 100 ms to 1 s), as such a
// deny-list is written.
func (h *harness) faultRival(ctx context.Context) (tally, error) {
	rd, err := h.startRedis(ctx, h.work)
	if err != nil {
		return tally{}, err
	}
	defer rd.stop()
	redis.SetLogger(quiet{})
	n, rate := h.sc.faultN, h.sc.faultRate
	const channel = "revocations"
	subc := rd.client(2)
	defer subc.Close()
	ps := subc.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		return tally{}, fmt.Errorf("rival: subscribe: %w", err)
	}
	var mu sync.Mutex
	deny := map[string]struct{}{}
	sctx, stopSub := context.WithCancel(ctx)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		backoff := 100 * time.Millisecond
		for sctx.Err() == nil {
			msg, err := ps.ReceiveMessage(sctx)
			if err != nil {
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			mu.Lock()
			deny[msg.Payload] = struct{}{}
			mu.Unlock()
		}
	}()
	pub := rd.client(1)
	defer pub.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	var restartErr error
	go func() {
		defer wg.Done()
		time.Sleep(time.Duration(n/2) * time.Second / time.Duration(rate))
		rd.stop()
		time.Sleep(h.sc.faultDown)
		restartErr = rd.start(ctx)
	}()
	token := func(i int) string { return fmt.Sprintf("rival-%s-%d", h.nonce, i) }
	s := sendAll(ctx, n, rate, func(i int) error {
		return pub.Publish(ctx, channel, opaqueKey(token(i))).Err()
	})
	wg.Wait()
	time.Sleep(max(h.sc.settle, 500*time.Millisecond)) // deliveries in flight
	stopSub()
	_ = ps.Close()
	<-subDone
	if restartErr != nil {
		return tally{}, restartErr
	}
	s.report(h, "redis-server", n)
	mu.Lock()
	defer mu.Unlock()
	return s.count(func(i int) bool {
		_, ok := deny[opaqueKey(token(i))]
		return ok
	}), nil
}
