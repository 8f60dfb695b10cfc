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
	h.progress("fault: revocast denies %d of %d", rc, n)
	m := fmt.Sprintf("rival under fault: %s revocations at %d/s, the bus restarted in the middle (down %s): denied at the end", count(n), rate, down)
	h.progress("fault: Redis pub/sub deny-list: the same, redis-server restarted in the middle")
	rv, err := h.faultRival(ctx)
	switch {
	case errors.Is(err, errNoRedis):
		h.add(row{measure: m, figure: fmt.Sprintf("revocast %d of %d", rc, n), baseline: "not measured: " + err.Error(),
			ratio: "—", target: "revocast loses none", met: met(rc == n)})
		return nil
	case err != nil:
		return err
	}
	h.progress("fault: the Redis pub/sub subscriber denies %d of %d", rv, n)
	h.add(row{measure: m, figure: fmt.Sprintf("revocast %d of %d", rc, n),
		baseline: fmt.Sprintf("Redis pub/sub %d of %d (lost %d)", rv, n, n-rv), ratio: "—",
		target: "revocast loses none", met: met(rc == n)})
	return nil
}

// sent is what sendAll saw.
type sent struct {
	failed   int // never accepted
	refused  int // attempts refused (then retried)
	firstErr error
}

// sendAll calls send for n items at a fixed rate, one after another, each
// retried every 50 ms until it succeeds (at most 30 s): a publisher that
// keeps trying while its bus is down.
func sendAll(ctx context.Context, n, rate int, send func(i int) error) sent {
	var s sent
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := send(i)
			if err == nil {
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
		h.note("fault: %s never accepted %d of %d revocations", who, s.failed, n)
	}
}

// faultRevocast runs the fault through a front and a sidecar.
func (h *harness) faultRevocast(ctx context.Context) (int, error) {
	e, err := h.newEnv(ctx, "fault")
	if err != nil {
		return 0, err
	}
	defer e.close()
	f, err := e.startFront(ctx, "front")
	if err != nil {
		return 0, err
	}
	sides, err := e.startSidecars(ctx, "side", 1, 1, f)
	if err != nil {
		return 0, err
	}
	if err := waitLive(ctx, f, 1); err != nil {
		return 0, err
	}
	n, rate := h.sc.faultN, h.sc.faultRate
	token := func(i int) string { return fmt.Sprintf("fault-%s-%d", h.nonce, i) }
	client := loadClient(8)
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
		return 0, restartErr
	}
	h.progress("fault: revocast: every revocation accepted after %s; checking the sidecar", secs(time.Since(start)))
	s.report(h, "the front", n)
	side := sides[0]
	if err := waitReady(ctx, side.child, side.url); err != nil {
		return 0, err
	}
	// Give the sidecar until the last revocation is enforced (or 10 s).
	_ = poll(ctx, 10*time.Second, 10*time.Millisecond, "the last revocation", func() bool {
		code, _ := check(ctx, client, side.url, token(n-1))
		return code == http.StatusUnauthorized
	})
	denied := 0
	for i := range n {
		if code, err := check(ctx, client, side.url, token(i)); err == nil && code == http.StatusUnauthorized {
			denied++
		}
	}
	return denied, nil
}

// quiet drops go-redis' own log lines (reconnection errors are expected here).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// faultRival runs the fault through a Redis pub/sub deny-list: a
// subscriber that adds every revoked hash it receives to a local set and
// reconnects after errors (backoff from 100 ms to 1 s), as such a
// deny-list is written.
func (h *harness) faultRival(ctx context.Context) (int, error) {
	rd, err := h.startRedis(ctx, h.work)
	if err != nil {
		return 0, err
	}
	defer rd.stop()
	redis.SetLogger(quiet{})
	n, rate := h.sc.faultN, h.sc.faultRate
	const channel = "revocations"
	subc := rd.client(2)
	defer subc.Close()
	ps := subc.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		return 0, fmt.Errorf("rival: subscribe: %w", err)
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
		return 0, restartErr
	}
	s.report(h, "redis-server", n)
	mu.Lock()
	defer mu.Unlock()
	denied := 0
	for i := range n {
		if _, ok := deny[opaqueKey(token(i))]; ok {
			denied++
		}
	}
	return denied, nil
}
