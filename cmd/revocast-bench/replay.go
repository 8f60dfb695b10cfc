package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
)

// point is one sample of a replay's progress.
type point struct {
	at time.Duration
	n  float64 // revocations applied (or read, for the raw consumer)
}

// replayed is what the replay measure found.
type replayed struct {
	n               int
	ready, raw      time.Duration
	sidecar, rawPts []point
}

// measureReplay: a cold sidecar replaying n live revocations until its
// /readyz answers 200, beside a raw ordered consumer reading the same
// stream on the same server; and the sidecar's memory (measureMemory).
func (h *harness) measureReplay(ctx context.Context) error {
	e, err := h.newEnv(ctx, "replay")
	if err != nil {
		return err
	}
	defer e.close()
	var mem memory
	if h.want("memory") {
		if mem, err = h.emptySidecars(ctx, e); err != nil {
			return err
		}
	}
	n := h.sc.replayN
	h.progress("replay: loading %d revocations into the stream", n)
	t0 := time.Now()
	msgs, err := e.loadRevocations(ctx, n, func(i int) string { return fmt.Sprintf("rep-%s-%d", h.nonce, i) })
	if err != nil {
		return err
	}
	h.progress("replay: loaded %d batch events in %s", msgs, secs(time.Since(t0)))
	r := replayed{n: n}
	raw1, pts, err := rawConsume(ctx, e, msgs, n)
	if err != nil {
		return err
	}
	r.rawPts = pts
	h.progress("replay: raw ordered consumer read the stream in %s; starting a cold sidecar", secs(raw1))

	side, err := e.startSidecar(ctx, "cold")
	if err != nil {
		return err
	}
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.sidecar = sampleEntries(ctx, side, stopSampling)
	}()
	err = waitReady(ctx, side.child, side.url)
	r.ready = time.Since(side.started)
	close(stopSampling)
	wg.Wait()
	if err != nil {
		return err
	}
	r.sidecar = append(r.sidecar, point{at: r.ready, n: float64(n)})
	raw2, _, err := rawConsume(ctx, e, msgs, n)
	if err != nil {
		return err
	}
	r.raw = (raw1 + raw2) / 2
	h.plots.replay = &r
	h.progress("replay: sidecar ready after %s (raw consume %s, %s)", secs(r.ready), secs(raw1), secs(raw2))
	if m, err := side.metrics(ctx); err == nil && int(m["revocast_subscriber_cache_entries"]) != n {
		h.note("replay: the sidecar holds %.0f entries, not %d", m["revocast_subscriber_cache_entries"], n)
	}
	h.add(row{measure: fmt.Sprintf("cold replay of %s live revocations: process start → `/readyz` 200", count(n)),
		figure: secs(r.ready), baseline: secs(r.raw) + " raw ordered consume",
		ratio:  fmt.Sprintf("%s (revocast at %.1f%% of the raw rate)", ratioD(r.ready, r.raw), 100*r.raw.Seconds()/r.ready.Seconds()),
		target: "≤ 3 s", met: met(r.ready <= 3*time.Second)})
	if h.want("memory") {
		return h.measureMemory(ctx, side, n, mem)
	}
	return nil
}

// sampleEntries reads the sidecar's entries from /metrics until stop.
func sampleEntries(ctx context.Context, s *sidecar, stop <-chan struct{}) []point {
	var pts []point
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, err := scrape(ctx, s.url); err == nil {
			pts = append(pts, point{at: time.Since(s.started), n: m["revocast_subscriber_cache_entries"]})
		}
		select {
		case <-stop:
			return pts
		case <-ctx.Done():
			return pts
		case <-tick.C:
		}
	}
}

// rawConsume reads the whole revocation stream (msgs messages holding n
// revocations) with an ordered consumer, as the operator, and returns how
// long it took and its progress.
func rawConsume(ctx context.Context, e *env, msgs, n int) (time.Duration, []point, error) {
	nc, err := e.connect(natsauth.Operator, "", e.creds(natsauth.Operator))
	if err != nil {
		return 0, nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, nil, fmt.Errorf("raw consume: %w", err)
	}
	start := time.Now()
	cons, err := js.OrderedConsumer(ctx, events.DefaultStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, nil, fmt.Errorf("raw consume: %w", err)
	}
	per := float64(n) / float64(msgs)
	pts := []point{{0, 0}}
	done := make(chan struct{})
	var seen atomic.Int64
	cc, err := cons.Consume(func(m jetstream.Msg) {
		got := int(seen.Add(1))
		if got > msgs {
			return // a redelivery after the end: already counted
		}
		if got%max(1, msgs/100) == 0 || got == msgs {
			pts = append(pts, point{at: time.Since(start), n: min(float64(got)*per, float64(n))})
		}
		if got == msgs {
			close(done)
		}
	})
	if err != nil {
		return 0, nil, fmt.Errorf("raw consume: %w", err)
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, nil, fmt.Errorf("raw consume: %d of %d messages after 2 minutes", seen.Load(), msgs)
	case <-ctx.Done():
		return 0, nil, fmt.Errorf("raw consume: %w", ctx.Err())
	}
	return pts[len(pts)-1].at, pts, nil
}
