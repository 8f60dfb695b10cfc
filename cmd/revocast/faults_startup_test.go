package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/subscriber"
)

// Seen against an older version: at the start of each cluster run, before
// any fault, requests took up to 3 to 4 s for about 4 s, and in the first
// second of load after 7 sidecars joined, 77 requests waited the whole 1 s
// propagation timeout. Measured here: a sidecar that found the stream
// empty said it was ready before its consumer existed, so requests waited
// for a sidecar that could not confirm yet (creating a consumer on a busy
// cluster takes a while); and a front recounted its ledger whenever a mark
// was counted between its question about the ledger and the answer, and
// answered 503 meanwhile. On a 3-node cluster under a steady load, seven
// sidecars join at once: no request answers anything but 200, none takes
// the propagation timeout, and every Elasticsearch answer is exact.
func TestFaultSidecarsJoiningUnderLoadDelayNobody(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster")
	}
	cl := natstest.StartPlainCluster(t, 3)
	sys := startFront(t, dialAs(t, cl.URLs(), natsauth.Front, ""), func(c *commonOpts, p *pubOpts) {
		c.replicas, p.publishTimeout = 3, DefaultPublishTimeout
	})
	stop := make(chan struct{})
	l := &timedLoad{}
	done := make(chan struct{})
	go func() { l.run(sys.url, "joining", 4, 10*time.Millisecond, stop); close(done) }()
	defer func() { close(stop); <-done }()
	waitFor(t, "load under way", func() bool { return len(l.snapshot()) >= 20 })

	joined := time.Now()
	var wg sync.WaitGroup
	ids := make([]string, 7)
	for i := range ids {
		ids[i] = fmt.Sprint("join-", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			startSidecar(t, dialAs(t, cl.URLs(), natsauth.Sidecar, ids[i]), subscriber.Config{ID: ids[i]})
		}()
	}
	wg.Wait()
	sys.seenBy(ids...)
	t.Logf("seven sidecars ready and seen %v after they started", time.Since(joined).Round(time.Millisecond))
	waitFor(t, "100 requests sent after the sidecars started", func() bool {
		n := 0
		for _, a := range l.snapshot() {
			if a.start.After(joined) {
				n++
			}
		}
		return n >= 100
	})
	answers := l.snapshot()
	var slowest time.Duration
	for _, a := range answers {
		took := a.end.Sub(a.start)
		slowest = max(slowest, took)
		switch {
		case a.code != 200:
			t.Errorf("%s: %d %s", a.token, a.code, a.body)
		case took >= time.Second && a.start.After(joined): // the cluster's first requests can be slow under a full suite
			t.Errorf("%s took %v (sent %v after the sidecars started): %s", a.token, took.Round(time.Millisecond),
				a.start.Sub(joined).Round(time.Millisecond), a.body)
		case strings.HasPrefix(a.body, `{"invalidated_tokens"`) && a.body != fmt.Sprintf(counts, 1, 0, 0):
			t.Errorf("%s: %s", a.token, a.body)
		}
	}
	t.Logf("%d requests, the slowest took %v", len(answers), slowest.Round(time.Millisecond))
}
