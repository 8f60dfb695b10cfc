//go:build !race

package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/subscriber"
)

// Bounded chaos, in the second pass (20,000 revocations take minutes under
// -race): a plain 3-node cluster with R3 streams, a front and three
// sidecars in this process, eight clients revoking 20,000 tokens through
// the four formats; every 2 s one sidecar is killed (its connection closed
// under it) and started again with the same id, and one NATS node is
// restarted once on its store. Every non-2xx answer is a 503, and at the
// end every sidecar denies every token answered 2xx.
func TestFaultChaosEndsWithNothingMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 revocations under faults")
	}
	const n = 20_000
	started := time.Now()
	cl := natstest.StartPlainCluster(t, 3)
	sys := startFront(t, dialAs(t, cl.URLs(), natsauth.Front, ""), func(c *commonOpts, p *pubOpts) {
		c.replicas, p.publishTimeout = 3, DefaultPublishTimeout
	})
	ids := []string{"c0", "c1", "c2"}
	sides := make([]*inSidecar, len(ids))
	sidecarAt := func(i int) *inSidecar {
		return startSidecar(t, dialAs(t, cl.URLs(), natsauth.Sidecar, ids[i]), subscriber.Config{ID: ids[i]})
	}
	for i := range ids {
		sides[i] = sidecarAt(i)
	}
	sys.seenBy(ids...)

	ta := newTally()
	done := make(chan struct{})
	loadStart := time.Now()
	go func() { load(ta, sys.url, "chaos", 8, n, 0, nil); close(done) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	kills, restarts := 0, 0
	for running := true; running; {
		select {
		case <-done:
			running = false
			continue
		case <-tick.C:
		}
		i := kills % len(sides)
		sides[i].nc.Close() // the process dies: its connection goes first
		sides[i].stop()
		sides[i] = sidecarAt(i)
		kills++
		if kills == 3 {
			node := kills % 3
			cl.Restart(node)
			restarts++
		}
	}
	loadTook := time.Since(loadStart)
	stored := ta.stored()
	converge := time.Now()
	for _, sc := range sides {
		natstest.Eventually(t, time.Minute, sc.id+" denying every stored revocation", func() bool {
			return len(missing(sc.sub, stored)) == 0
		})
	}
	t.Logf("chaos: %d revocations in %v: %d answered 2xx, %d 503 (%s); %d sidecar kills, %d NATS node restarts; "+
		"every sidecar denied all %d within %v of the last answer; %v in all",
		n, loadTook.Round(time.Millisecond), len(stored), ta.codes[503], ta, kills, restarts, len(stored),
		time.Since(converge).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	for code, c := range ta.codes {
		if code/100 != 2 && code != 503 {
			t.Errorf("%d answers %d: %s", c, code, ta.bodies[code])
		}
	}
	if kills == 0 || restarts == 0 {
		t.Errorf("the load ended before the faults (%d kills, %d restarts): %s", kills, restarts, fmt.Sprint(loadTook))
	}
}
