package main

import (
	"fmt"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/revocast/revocast/cache"
)

// BenchmarkRevokeToEnforced measures, with two sidecars, the time from
// sending DELETE /_security/oauth2/token to both sidecars answering 401 on
// GET /v1/check; every hop is HTTP or NATS on loopback. wait=1s is the
// default front (it answers once the sidecars confirmed); wait=0 answers as
// soon as the revocation is stored, so the sidecars are polled for it.
func BenchmarkRevokeToEnforced(b *testing.B) {
	for _, wait := range []time.Duration{time.Second, 0} {
		b.Run(fmt.Sprintf("wait=%s", wait), func(b *testing.B) {
			sys := newSystem(b, func(p *pubOpts) { p.propagationTimeout = wait })
			var sides []string
			for _, id := range []string{"a", "b"} {
				dc, _ := cache.New(cache.Config{Capacity: int64(b.N) + 1000})
				b.Cleanup(dc.Close)
				sub := sys.addSidecar(id, dc)
				srv := httptest.NewServer(sub.Handler(nil))
				b.Cleanup(srv.Close)
				sides = append(sides, srv.URL)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tok := fmt.Sprintf("bench-%d-%d", i, time.Now().UnixNano())
				start := time.Now()
				if r := esRevoke(b, sys.url, `{"token":"`+tok+`"}`); r.code != 200 {
					b.Fatalf("revoke: %d %s", r.code, r.body)
				}
				for _, side := range sides {
					for check(side, tok) != 401 {
					}
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			pct := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
