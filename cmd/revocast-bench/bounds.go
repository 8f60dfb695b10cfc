package main

import (
	"fmt"
	"io"
	"time"
)

// The report's Bounds section: for a target the run did not meet, one
// sentence saying what bounds it, written only from figures of this run
// (a baseline that shows the bound), never from earlier runs. A target
// missed with no such baseline gets no sentence.

// bound records one sentence of the Bounds section.
func (h *harness) bound(format string, args ...any) {
	h.mu.Lock()
	h.bounds = append(h.bounds, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// boundCPU: the sidecar's CPU per applied revocation beside bare consumers
// fed the same load.
func (h *harness) boundCPU(fig enforced, raw rawRound) {
	const target = 20 * time.Microsecond
	x, y := fig.cpuPerRev, raw.cpuPerRev
	if x <= 0 || y <= 0 {
		return
	}
	s := fmt.Sprintf("**Sidecar CPU per applied revocation** (≤ 20 µs): %s with %d sidecars against %s for a bare JetStream "+
		"consumer with the sidecar's consumer and pull settings, fed the same front load at %.2f messages per revocation",
		us(x), fig.sidecars, us(y), raw.msgsPerRev())
	if y > target {
		s += fmt.Sprintf(": receiving alone is above the target, each message being a wake-up of the consumer, so batching "+
			"several revocations per message would move it; the sidecar's own work is the other %s.", us(max(x-y, 0)))
	} else {
		s += fmt.Sprintf(": receiving fits in the target, the sidecar's own work per revocation (%s more) does not.", us(x-y))
	}
	h.bound("%s", s)
}

// boundCheck: the check over HTTP beside Redis and an empty net/http
// handler under the same clients (rates per second).
func (h *harness) boundCheck(check, redis, empty float64) {
	if check <= 0 || redis <= 0 || empty <= 0 {
		return
	}
	s := fmt.Sprintf("**`GET /v1/check`** (≥ 1.0× Redis `EXISTS`): %s, %.0f%% of Redis `EXISTS` (%s) and %.0f%% of an "+
		"empty net/http handler (%s) under the same clients", perSec(check), 100*check/redis, perSec(redis),
		100*check/empty, perSec(empty))
	if empty < redis {
		s += fmt.Sprintf(": the empty handler itself reaches only %.0f%% of Redis, so net/http's cost per request (the "+
			"server's, and the load generator's HTTP client on the same cores) bounds the target whatever the check does; "+
			"the check's own work is the gap between it and the empty handler.", 100*empty/redis)
	} else {
		s += ": net/http alone would meet the target; the gap is the check's own work in the sidecar."
	}
	h.bound("%s", s)
}

// boundMemory: the sidecar's memory per live revocation beside the
// entry of ristretto used naively, measured in the harness (bytes).
func (h *harness) boundMemory(perRev, ristretto float64) {
	const target = 200
	if ristretto <= target {
		return // the library's entry fits: this run shows no bound
	}
	h.bound("**Memory per live revocation** (≤ %d B): %.0f B in the sidecar against %.0f B for ristretto's own entry "+
		"(the cache alone, used naively, in this run): the cache library's entry by itself is above the target.",
		target, perRev, ristretto)
}

// writeBounds writes the Bounds section (nothing when no sentence).
func (h *harness) writeBounds(w io.Writer, heading string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bounds) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n\nWhat bounds each target this run missed, where one of its baselines shows it:\n\n", heading)
	for _, b := range h.bounds {
		fmt.Fprintf(w, "- %s\n", b)
	}
}

// boundInproc: the in-process check beside the least any check does (the
// token's SHA-256 and one ristretto Get), in ns per check.
func (h *harness) boundInproc(check, bare int64) {
	const target = 300
	if check <= target || bare <= 0 || bare < target*8/10 {
		return // met, or the bare check leaves room this run: no bound shown
	}
	h.bound("**In-process check** (≤ %d ns): %d ns against %d ns for the token's SHA-256 and one ristretto `Get` alone "+
		"(the same tokens, the same goroutines): that minimum takes %.0f%% of the target by itself; the check adds the "+
		"readiness and staleness gate (flags, no clock read), the side list of refused revocations, the counters and the "+
		"deny-cache's shard choice (%d ns).",
		target, check, bare, 100*float64(bare)/target, check-bare)
}
