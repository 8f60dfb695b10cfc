package main

import (
	"fmt"
	"strconv"
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
// sidecars join at once: no request answers anything but 200, none waits
// the propagation timeout for a sidecar (the front's count of timeouts in
// answers stays where it was; a wall-clock bound failed under a loaded
// -race suite, where a request can be slow without waiting for anyone), and
// every Elasticsearch answer is exact.
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

	timeouts := func() float64 {
		return labelledMetric(t, sys.url, `revocast_publisher_propagation_errors_total{kind="timeout"}`)
	}
	before := timeouts()
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
		case strings.HasPrefix(a.body, `{"invalidated_tokens"`) && a.body != fmt.Sprintf(counts, 1, 0, 0):
			t.Errorf("%s: %s", a.token, a.body)
		}
	}
	if n := timeouts() - before; n != 0 {
		t.Errorf("%v confirmations timed out in answers after the sidecars joined", n)
	}
	t.Logf("%d requests, the slowest took %v", len(answers), slowest.Round(time.Millisecond))
}

// labelledMetric reads one series (name with its labels) from a
// component's /metrics; 0 when it has not been counted yet.
func labelledMetric(t testing.TB, base, series string) float64 {
	t.Helper()
	body := httpDo(t, "GET", base+"/metrics", "", "").body
	if !strings.Contains(body, "revocast_publisher_live_subscribers ") {
		t.Fatalf("%s/metrics serves no publisher metrics", base)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}
