package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/internal/natsauth"
)

// measureFront: single-token Elasticsearch revocations over keep-alive
// against a front that does not wait for sidecars, beside raw JetStream
// synchronous publishes on the same server, in alternating rounds so both
// see the same host load.
func (h *harness) measureFront(ctx context.Context) error {
	e, err := h.newEnv(ctx, "front")
	if err != nil {
		return err
	}
	defer e.close()
	extra := []string{"--propagation-timeout", "0"}
	if h.opt.pprofDir != "" {
		extra = append(extra, "--pprof-addr", "127.0.0.1:0")
	}
	f, err := e.startFront(ctx, "front", extra...)
	if err != nil {
		return err
	}
	nc, err := e.connect(natsauth.Operator, "", e.creds(natsauth.Operator))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	const subject = "revocast.bench.raw"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{subject},
		Storage: jetstream.FileStorage}); err != nil {
		return fmt.Errorf("raw stream: %w", err)
	}
	payload := make([]byte, 200)
	_, _ = rand.Read(payload)
	raw := func(d time.Duration) closed {
		return closedLoop(ctx, h.sc.frontClients, d, func(int, int) error {
			_, err := js.Publish(ctx, subject, payload)
			return err
		})
	}
	client := loadClient(h.sc.frontClients)
	revoke := func(d time.Duration) closed {
		return closedLoop(ctx, h.sc.frontClients, d, func(w, i int) error {
			_, err := h.revokeToken(ctx, client, f.url, fmt.Sprintf("front-%s-%d-%d", h.nonce, w, i))
			return err
		})
	}

	h.progress("front: warming up (both loads, %s each)", h.sc.warmup)
	raw(h.sc.warmup)
	revoke(h.sc.warmup)
	var rawRes, frontRes closed
	var frontCPU time.Duration
	rounds := 2
	for r := range rounds {
		d := h.sc.frontDur / time.Duration(rounds)
		h.progress("front: round %d/%d: raw JetStream publish, %d publishers, %s", r+1, rounds, h.sc.frontClients, d)
		rawRes.merge(raw(d))
		h.progress("front: round %d/%d: Elasticsearch revocations, %d clients, %s", r+1, rounds, h.sc.frontClients, d)
		if r == rounds-1 && h.opt.pprofDir != "" {
			go h.profile(ctx, f.child, "front", d-time.Second)
		}
		c0 := f.cpu()
		frontRes.merge(revoke(d))
		frontCPU += f.cpu() - c0
	}
	if frontRes.errs > 0 || rawRes.errs > 0 {
		h.note("front: %d revocations and %d raw publishes failed (first: %v / %v)",
			frontRes.errs, rawRes.errs, frontRes.firstErr, rawRes.firstErr)
	}
	h.progress("front: %.0f revocations/s (raw publish %.0f/s)", frontRes.rate(), rawRes.rate())

	m := "front: ES single-token revocations, `--propagation-timeout 0`"
	fr, rr := frontRes.rate(), rawRes.rate()
	h.add(row{measure: m, figure: perSec(fr) + " revocations", baseline: perSec(rr) + " raw sync publishes",
		ratio: ratio(fr, rr), target: "≥ 0.50× raw and ≥ 20,000/s", met: met(rr > 0 && fr >= 0.5*rr && fr >= 20000)})
	h.add(row{measure: m + ": p50 / p99", figure: ms(pct(frontRes.lat, .5)) + " / " + ms(pct(frontRes.lat, .99)),
		baseline: ms(pct(rawRes.lat, .5)) + " / " + ms(pct(rawRes.lat, .99)),
		ratio:    ratioD(pct(frontRes.lat, .99), pct(rawRes.lat, .99)), target: "—", met: "—"})
	var perRev time.Duration
	if n := len(frontRes.lat); n > 0 {
		perRev = frontCPU / time.Duration(n)
	}
	h.add(row{measure: m + ": front CPU per revocation", figure: us(perRev), baseline: "—", ratio: "—",
		target: "—", met: "—"})
	f.stop() // its log is complete
	h.phaseRow(m, f.logPath)
	return nil
}
