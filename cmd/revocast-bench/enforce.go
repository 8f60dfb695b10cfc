package main

import (
	"context"
	"fmt"
	"time"
)

const lagMetric = "revocast_subscriber_revoke_to_applied_seconds"

// enforced is one revoke→enforced round.
type enforced struct {
	sidecars  int
	shots     []shot
	lat       []time.Duration // of the revocations answered 200
	errs      int
	firstErr  error
	timeouts  int // answers carrying a timeout_exception
	rate      float64
	lag       histogram // sidecar side, every sidecar together
	cpuPerRev time.Duration
	rebuilds  float64 // sidecars that emptied their cache and replayed during the round
	resumes   float64 // consumers re-created during the round
}

// restarts are the metrics that count a sidecar starting over.
var restarts = [...]string{"revocast_subscriber_rebuilds_total", "revocast_subscriber_consumer_resumes_total"}

// measureEnforce: a front with the default propagation wait (it answers
// once every live sidecar confirmed) taking revocations at a fixed rate,
// with few sidecars (the baseline) and then many.
func (h *harness) measureEnforce(ctx context.Context) error {
	e, err := h.newEnv(ctx, "enforce")
	if err != nil {
		return err
	}
	defer e.close()
	f, err := e.startFront(ctx, "front")
	if err != nil {
		return err
	}
	few, many := h.sc.enforceFew, h.sc.enforceMany
	// The CPU baseline first, while no sidecar runs.
	raw, rawErr := h.enforceRawRound(ctx, e, f, many)
	if rawErr != nil {
		if ctx.Err() != nil {
			return rawErr
		}
		h.note("revoke→enforced: the bare consumers' round failed: %v", rawErr)
	}
	sides, err := e.startSidecars(ctx, "side", 1, few, f)
	if err != nil {
		return err
	}
	if err := waitLive(ctx, f, few); err != nil {
		return err
	}
	base, err := h.enforceRound(ctx, f, sides)
	if err != nil {
		return err
	}
	more, err := e.startSidecars(ctx, "side", few+1, many-few, f)
	if err != nil {
		return err
	}
	sides = append(sides, more...)
	if err := waitLive(ctx, f, many); err != nil {
		return err
	}
	fig, err := h.enforceRound(ctx, f, sides)
	if err != nil {
		return err
	}
	h.plots.enforce = []enforced{base, fig}

	m := fmt.Sprintf("revoke→enforced: %d sidecars, %d revocations/s offered", many, h.sc.enforceRate)
	b := fmt.Sprintf(" (%d sidecars)", few)
	h.add(row{measure: m + ": client view p99 (answer after the sidecars confirmed)", figure: ms(pct(fig.lat, .99)),
		baseline: ms(pct(base.lat, .99)) + b, ratio: ratioD(pct(fig.lat, .99), pct(base.lat, .99)), target: "≤ 20 ms",
		met: met(len(fig.lat) > 0 && pct(fig.lat, .99) <= 20*time.Millisecond)})
	h.add(row{measure: m + ": client view p50", figure: ms(pct(fig.lat, .5)), baseline: ms(pct(base.lat, .5)) + b,
		ratio: ratioD(pct(fig.lat, .5), pct(base.lat, .5)), target: "—", met: "—"})
	fq, bq := fig.lag.quantile(.99), base.lag.quantile(.99)
	h.add(row{measure: m + ": sidecar side p99 (accepted → applied, /metrics histogram)", figure: msF(fq),
		baseline: msF(bq) + b, ratio: ratio(fq, bq), target: "≤ 5 ms", met: met(fq <= 0.005)})
	rawBase, rawRatio := "not measured: "+fmt.Sprint(rawErr), "—"
	if rawErr == nil {
		rawBase = fmt.Sprintf("%s bare JetStream consumers (%d processes, the sidecar's consumer and pull settings, "+
			"messages discarded; %.2f messages per revocation)", us(raw.cpuPerRev), raw.consumers, raw.msgsPerRev())
		rawRatio = ratioD(fig.cpuPerRev, raw.cpuPerRev)
	}
	cpuMet := fig.cpuPerRev > 0 && fig.cpuPerRev <= 20*time.Microsecond
	h.add(row{measure: m + ": sidecar CPU per applied revocation", figure: us(fig.cpuPerRev),
		baseline: rawBase, ratio: rawRatio, target: "≤ 20 µs", met: met(cpuMet)})
	h.add(row{measure: m + ": sidecar CPU per applied revocation, beside fewer sidecars", figure: us(fig.cpuPerRev),
		baseline: us(base.cpuPerRev) + b, ratio: ratioD(fig.cpuPerRev, base.cpuPerRev), target: "—", met: "—"})
	if !cpuMet && rawErr == nil {
		h.boundCPU(fig, raw)
	}
	h.add(row{measure: m + ": achieved rate, failed requests, answers with a timeout_exception, sidecar rebuilds",
		figure:   fmt.Sprintf("%s, %d, %d, %.0f", perSec(fig.rate), fig.errs, fig.timeouts, fig.rebuilds),
		baseline: fmt.Sprintf("%s, %d, %d, %.0f", perSec(base.rate), base.errs, base.timeouts, base.rebuilds) + b,
		ratio:    "—", target: "—", met: "—"})
	return nil
}

// enforceRound sends revocations at the fixed rate for the round's
// duration and reads the sidecars' CPU and lag histograms around it.
func (h *harness) enforceRound(ctx context.Context, f *front, sides []*sidecar) (enforced, error) {
	r := enforced{sidecars: len(sides)}
	client := loadClient(256)
	token := func(i int) string { return fmt.Sprintf("enf-%s-%d-%d", h.nonce, len(sides), i) }
	// Warm up the connections and the front's credential cache.
	openLoop(ctx, h.sc.enforceRate, h.sc.enforceRate/4, nil, func(i int) (bool, error) {
		return h.revokeToken(ctx, client, f.url, token(-i-1))
	})
	lag0 := make([]histogram, len(sides))
	for i, s := range sides {
		m, err := s.metrics(ctx)
		if err != nil {
			return r, err
		}
		if lag0[i], err = histogramOf(m, lagMetric); err != nil {
			return r, err
		}
		r.rebuilds -= m[restarts[0]]
		r.resumes -= m[restarts[1]]
	}
	cpu0 := cpuOf(sides)
	n := int(float64(h.sc.enforceRate) * h.sc.enforceDur.Seconds())
	h.progress("revoke→enforced: %d sidecars, %d revocations at %d/s", len(sides), n, h.sc.enforceRate)
	start := time.Now()
	r.shots = openLoop(ctx, h.sc.enforceRate, n, nil, func(i int) (bool, error) {
		return h.revokeToken(ctx, client, f.url, token(i))
	})
	took := time.Since(start)
	cpu1 := cpuOf(sides)
	for _, s := range r.shots {
		switch {
		case s.err != nil:
			r.errs++
			if r.firstErr == nil {
				r.firstErr = s.err
			}
		default:
			r.lat = append(r.lat, s.lat)
			if s.flag {
				r.timeouts++
			}
		}
	}
	r.rate = float64(len(r.lat)) / took.Seconds()
	for i, s := range sides {
		m, err := s.metrics(ctx)
		if err != nil {
			return r, err
		}
		l, err := histogramOf(m, lagMetric)
		if err != nil {
			return r, err
		}
		r.lag = r.lag.add(l.sub(lag0[i]))
		r.rebuilds += m[restarts[0]]
		r.resumes += m[restarts[1]]
	}
	if r.rebuilds > 0 || r.resumes > 0 {
		h.note("revoke→enforced with %d sidecars: %.0f rebuilds (cache emptied, stream replayed: their replays count in the sidecar-side "+
			"histogram and CPU) and %.0f consumer re-creations during the round", len(sides), r.rebuilds, r.resumes)
	}
	var cpu time.Duration
	for i := range sides {
		cpu += cpu1[i] - cpu0[i]
	}
	if len(r.lat) > 0 {
		r.cpuPerRev = cpu / time.Duration(len(sides)*len(r.lat))
	}
	if r.errs > 0 {
		h.note("revoke→enforced with %d sidecars: %d of %d revocations failed (first: %v)", len(sides), r.errs, len(r.shots), r.firstErr)
	}
	h.progress("revoke→enforced: %d sidecars: p50 %s, p99 %s, sidecar side p99 %s, %s sidecar CPU per revocation, %d timeouts",
		len(sides), ms(pct(r.lat, .5)), ms(pct(r.lat, .99)), msF(r.lag.quantile(.99)), us(r.cpuPerRev), r.timeouts)
	return r, nil
}
