package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/revocast/revocast/cache"
)

// memory holds the resident sizes of empty sidecars.
type memory struct {
	emptyDefault int64   // default capacity
	emptySmall   int64   // capacity smallCapacity
	emptyHeap    float64 // Go heap in use of the default one (0: not exported)
}

const heapMetric = "go_memstats_heap_inuse_bytes"

const smallCapacity = 1000

// emptySidecars starts two sidecars on the empty stream, one with the
// default capacity and one with a small one, and reads their RSS once
// they are ready and settled.
func (h *harness) emptySidecars(ctx context.Context, e *env) (memory, error) {
	var m memory
	h.progress("memory: empty sidecars (capacity %s and %d)", count(cache.DefaultCapacity), smallCapacity)
	big, err := e.startSidecar(ctx, "empty-default")
	if err != nil {
		return m, err
	}
	small, err := e.startSidecar(ctx, "empty-small", "--cache-capacity", fmt.Sprint(smallCapacity))
	if err != nil {
		return m, err
	}
	for _, s := range []*sidecar{big, small} {
		if err := waitReady(ctx, s.child, s.url); err != nil {
			return m, err
		}
	}
	time.Sleep(h.sc.settle)
	if m.emptyDefault, err = rss(big.pid()); err != nil {
		return m, err
	}
	if m.emptySmall, err = rss(small.pid()); err != nil {
		return m, err
	}
	if mm, err := big.metrics(ctx); err == nil {
		m.emptyHeap = mm[heapMetric]
	}
	big.stop()
	small.stop()
	return m, nil
}

// measureMemory reads the loaded sidecar's RSS and sets it beside the
// empty ones and naive ristretto's own cost per entry (in this process).
func (h *harness) measureMemory(ctx context.Context, loaded *sidecar, n int, m memory) error {
	time.Sleep(h.sc.settle)
	full, err := rss(loaded.pid())
	if err != nil {
		return err
	}
	var heap float64
	if mm, err := loaded.metrics(ctx); err == nil {
		heap = mm[heapMetric]
	}
	loaded.stop()
	h.progress("memory: RSS empty %s (capacity %d: %s), loaded with %s: %s; naive ristretto with %s entries in-process",
		mib(m.emptyDefault), smallCapacity, mib(m.emptySmall), count(n), mib(full), count(n))
	debug.FreeOSMemory()
	per, fixed, err := naiveRistretto(n)
	if err != nil {
		return err
	}
	perRev := float64(full-m.emptyDefault) / float64(n)
	// The fixed overhead that comes with the capacity: an empty sidecar of
	// the default capacity beside one of a small capacity.
	fixedPerM := float64(m.emptyDefault-m.emptySmall) * 1e6 / float64(cache.DefaultCapacity-smallCapacity)
	naiveFixedPerM := fixed * 1e6 / float64(n)
	h.add(row{measure: fmt.Sprintf("memory per live revocation, sidecar RSS with %s loaded − empty", count(n)),
		figure: fmt.Sprintf("%.0f B", perRev), baseline: fmt.Sprintf("%.0f B naive ristretto entry (heap)", per),
		ratio: ratio(perRev, per), target: "≤ 200 B", met: met(perRev <= 200)})
	if perRev > 200 {
		h.boundMemory(perRev, per)
	}
	h.add(row{measure: "memory: fixed overhead per million of capacity (empty RSS, default − small capacity)",
		figure:   fmt.Sprintf("%.1f MB", fixedPerM/1e6),
		baseline: fmt.Sprintf("%.1f MB naive ristretto, 10 counters per entry (heap)", naiveFixedPerM/1e6),
		ratio:    ratio(fixedPerM, naiveFixedPerM), target: "≤ 10 MB", met: met(fixedPerM <= 10e6)})
	if heap > 0 && m.emptyHeap > 0 {
		h.add(row{measure: "memory: of which Go heap in use per live revocation (`" + heapMetric + "`, loaded − empty)",
			figure: fmt.Sprintf("%.0f B", (heap-m.emptyHeap)/float64(n)), baseline: fmt.Sprintf("%.0f B naive ristretto entry (heap)", per),
			ratio: ratio((heap-m.emptyHeap)/float64(n), per), target: "—", met: "—"})
	}
	h.add(row{measure: "memory: sidecar RSS empty (default capacity) / loaded", figure: mib(m.emptyDefault) + " / " + mib(full),
		baseline: "—", ratio: "—", target: "—", met: "—"})
	return nil
}
