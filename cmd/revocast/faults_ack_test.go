package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/faultproxy"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/subscriber"
)

// Seen against an older version: with only the publish acknowledgements
// dropped for 300 ms (the connection up), 30 requests answered 503 after the
// whole publish timeout though all were stored and enforced, and one
// answered 200 with invalidated_tokens 0 and an error for a token it had
// revoked. Now the front's connection goes through a proxy that drops every
// reply in the front's inbox (publish acknowledgements, registry reads,
// JetStream API answers) for 300 ms of every second while eight clients revoke
// through the four formats: every answer is a 200 (Elasticsearch's counts
// exactly {1,0,0}), a second revocation of each under the same fault counts
// {0,1,0}, publishes were retried (their acknowledgements were lost), and
// both sidecars deny every token.
func TestFaultLostAcksCostARetryNotA503(t *testing.T) {
	ns := natstest.Start(t)
	proxy, err := faultproxy.Start(ns.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	sys := startFront(t, dialAs(t, proxy.URL(), natsauth.Front, ""))
	var sides []*inSidecar
	for _, id := range []string{"a", "b"} {
		sides = append(sides, startSidecar(t, dialAs(t, ns.ClientURL(), natsauth.Sidecar, id), subscriber.Config{ID: id}))
	}
	sys.seenBy("a", "b")
	ackInbox := natsauth.InboxPrefix(natsauth.Front, "")

	const n = 200
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("lost-ack-%d", i)
	}
	// round sends every token's revocation (through the format pick
	// chooses) from eight clients while replies are dropped 300 ms out of
	// every second, and returns the answers. (Not 300 of 600: a retry
	// 500 ms after an attempt whose reply was lost fell into the next
	// window every time.)
	round := func(pick func(i int) format) []response {
		dropped := proxy.Dropped()
		answers := make([]response, n)
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					answers[i] = pick(i).revoke(sys.url, tokens[i])
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for windows := 1; ; windows++ {
			proxy.DropFor(ackInbox, 300*time.Millisecond)
			select {
			case <-tick.C:
				continue
			case <-done:
			}
			t.Logf("%d requests answered in %v under %d drop windows; %d replies dropped", n,
				time.Since(start).Round(time.Millisecond), windows, proxy.Dropped()-dropped)
			break
		}
		if proxy.Dropped() == dropped {
			t.Fatal("no reply was dropped: the fault did not happen")
		}
		return answers
	}

	first := round(func(i int) format { return formats[i%len(formats)] })
	for i, r := range first {
		f := formats[i%len(formats)]
		if r.code != 200 {
			t.Errorf("first revocation of %s through %s: %d %s", tokens[i], f.name, r.code, r.body)
		} else if f.name == "elasticsearch" && r.body != fmt.Sprintf(counts, 1, 0, 0) {
			t.Errorf("first revocation of %s: %s", tokens[i], r.body)
		}
	}
	second := round(func(int) format { return formats[0] })
	for i, r := range second {
		if r.code != 200 || r.body != fmt.Sprintf(counts, 0, 1, 0) {
			t.Errorf("second revocation of %s: %d %s", tokens[i], r.code, r.body)
		}
	}
	retries := metricValue(t, sys.url, "revocast_publisher_publish_retries_total")
	t.Logf("publishes retried: %v", retries)
	if retries == 0 {
		t.Error("no publish was retried: no acknowledgement of a stored revocation was lost")
	}
	for _, sc := range sides {
		if m := missing(sc.sub, tokens); len(m) > 0 {
			t.Errorf("sidecar %s allows %d revoked tokens: %v", sc.id, len(m), m)
		}
	}
}

// metricValue reads one unlabelled metric from a component's /metrics.
func metricValue(t testing.TB, base, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(httpDo(t, "GET", base+"/metrics", "", "").body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
