package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/subscriber"
)

// BenchmarkRegistry100k measures the registry figures of the README with
// two sidecars: registering 100,000 tokens of one user in one NDJSON
// request (tokens/s), then revoking that user (time to the answer, with its
// exact count, and time until both sidecars deny every one of the tokens).
// Run it with -benchtime 1x: one iteration is the whole scenario.
func BenchmarkRegistry100k(b *testing.B) {
	const n = 100_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sys := newSystem(b)
		var sides []*subscriber.Subscriber
		for _, id := range []string{"a", "b"} {
			dc, _ := cache.New(cache.Config{Capacity: 2 * n})
			b.Cleanup(dc.Close)
			sides = append(sides, sys.addSidecar(id, dc))
		}
		user := fmt.Sprint("bulk-user-", i)
		toks := make([]string, n)
		var body strings.Builder
		exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		for k := 0; k < n; k++ {
			toks[k] = fmt.Sprintf("bulk-%d-%d-%08d", i, time.Now().UnixNano(), k)
			typ, parent := "refresh_token", ""
			if k%2 == 1 {
				typ, parent = "access_token", fmt.Sprintf(`,"parent":%q`, toks[k-1])
			}
			fmt.Fprintf(&body, `{"token":%q,"type":%q,"realm":"saml1","username":%q,"client_id":"app","expires_at":%q%s}`+"\n",
				toks[k], typ, user, exp, parent)
		}
		b.StartTimer()

		start := time.Now()
		r := httpDo(b, "POST", sys.url+"/v1/tokens", "application/x-ndjson", body.String(), "Authorization", testBasic)
		regTook := time.Since(start)
		if r.code != 200 || r.body != fmt.Sprintf(`{"registered":%d}`+"\n", n) {
			b.Fatalf("register: %d %.300s", r.code, r.body)
		}

		// Watch both sidecars from the moment the request is sent: enforced is
		// when both deny every one of the tokens.
		start = time.Now()
		enforcedAt := make(chan time.Duration, 1)
		go func() {
			// Poll every millisecond (a spinning loop would take one of the
			// two cores the sidecars need), from the last token back.
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for _, s := range sides {
				for k := n - 1; k >= 0; {
					if s.Check(toks[k]).Verdict == subscriber.Revoked {
						k--
						continue
					}
					<-tick.C
				}
			}
			enforcedAt <- time.Since(start)
		}()
		r = esRevoke(b, sys.url, `{"username":"`+user+`","realm_name":"saml1"}`)
		answered := time.Since(start)
		if r.body != fmt.Sprintf(counts, n, 0, 0) {
			b.Fatalf("revoke: %d %.300s", r.code, r.body)
		}
		enforced := <-enforcedAt
		b.StopTimer()
		b.ReportMetric(float64(n)/regTook.Seconds(), "registered-tokens/s")
		b.ReportMetric(answered.Seconds(), "revoke-answer-s")
		b.ReportMetric(enforced.Seconds(), "revoke-enforced-s")
	}
}
