package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
)

// rawRound is the baseline of the sidecar CPU per applied revocation: bare
// consumers fed what the sidecars are fed.
type rawRound struct {
	consumers int
	revs      int           // revocations answered 200
	msgs      uint64        // messages the consumers received, all together
	cpuPerRev time.Duration // per consumer and revocation answered
	cpuPerMsg time.Duration // per message received
}

// msgsPerRev is how many messages each consumer received per revocation.
func (r rawRound) msgsPerRev() float64 {
	if r.revs == 0 || r.consumers == 0 {
		return 0
	}
	return float64(r.msgs) / float64(r.consumers*r.revs)
}

// enforceRawRound starts as many bare consumers as the measure has sidecars
// (before any sidecar runs, so the front does not wait and nothing else
// reads the stream), sends revocations to the front at the same rate for
// the same time as a sidecar round, waits until every consumer received the
// stream's last message and reads their CPU over the round as the
// sidecars' is read; then stops them.
func (h *harness) enforceRawRound(ctx context.Context, e *env, f *front, k int) (rawRound, error) {
	r := rawRound{consumers: k}
	raws, err := e.startRawConsumers(ctx, "raw", k)
	if err != nil {
		return r, err
	}
	defer func() {
		for _, c := range raws {
			c.stop()
		}
	}()
	nc, err := e.connect(natsauth.Operator, "", e.creds(natsauth.Operator))
	if err != nil {
		return r, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return r, fmt.Errorf("jetstream: %w", err)
	}
	client := loadClient(256)
	token := func(i int) string { return fmt.Sprintf("raw-%s-%d", h.nonce, i) }
	// The same warm-up as a sidecar round: the consumers' first pulls too.
	openLoop(ctx, h.sc.enforceRate, h.sc.enforceRate/4, nil, func(i int) (bool, error) {
		return h.revokeToken(ctx, client, f.url, token(-i-1))
	})
	n0, err := caughtUp(ctx, js, raws)
	if err != nil {
		return r, err
	}
	cpu0 := cpuOfRaw(raws)
	n := int(float64(h.sc.enforceRate) * h.sc.enforceDur.Seconds())
	h.progress("revoke→enforced: %d bare consumers, %d revocations at %d/s", k, n, h.sc.enforceRate)
	shots := openLoop(ctx, h.sc.enforceRate, n, nil, func(i int) (bool, error) {
		return h.revokeToken(ctx, client, f.url, token(i))
	})
	n1, err := caughtUp(ctx, js, raws)
	if err != nil {
		return r, err
	}
	cpu1 := cpuOfRaw(raws)
	errs := 0
	for _, s := range shots {
		if s.err != nil {
			errs++
		} else {
			r.revs++
		}
	}
	if errs > 0 {
		h.note("revoke→enforced with %d bare consumers: %d of %d revocations failed", k, errs, len(shots))
	}
	var cpu time.Duration
	for i := range raws {
		cpu += cpu1[i] - cpu0[i]
		r.msgs += n1[i] - n0[i]
	}
	if r.revs > 0 {
		r.cpuPerRev = cpu / time.Duration(k*r.revs)
	}
	if r.msgs > 0 {
		r.cpuPerMsg = cpu / time.Duration(r.msgs)
	}
	h.progress("revoke→enforced: %d bare consumers: %s CPU per revocation, %s per message, %.2f messages per revocation",
		k, us(r.cpuPerRev), us(r.cpuPerMsg), r.msgsPerRev())
	return r, nil
}

// caughtUp waits until every consumer received the stream's last message
// and returns how many each received.
func caughtUp(ctx context.Context, js jetstream.JetStream, raws []*rawConsumer) ([]uint64, error) {
	st, err := js.Stream(ctx, events.DefaultStreamName)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	last := st.CachedInfo().State.LastSeq
	got := make([]uint64, len(raws))
	for i, c := range raws {
		var perr error
		err := poll(ctx, 30*time.Second, 20*time.Millisecond, c.name+" to receive sequence "+fmt.Sprint(last), func() bool {
			var seq uint64
			got[i], seq, perr = c.received(ctx)
			return perr == nil && seq >= last || !c.alive()
		})
		if err == nil && !c.alive() {
			err = fmt.Errorf("%s exited (%v)", c.name, c.err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w (last: %v); its log: %s", err, perr, c.tail(10))
		}
	}
	return got, nil
}
