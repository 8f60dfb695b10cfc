package main

import (
	"fmt"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/ssftest"
)

// BenchmarkSSFPushToDenied measures, with two sidecars, the time from a
// transmitter pushing a CAEP session-revoked SET (POST /ssf/events: a
// bearer token, a signature check, the replay record's read, the session
// rule stored and confirmed, the replay record written) to both sidecars
// answering 401 on GET /v1/check for a JWT of that session. Signing the
// SET and the JWT is outside the measured time; every hop is HTTP or NATS
// on loopback. answer-* is when the 202 came back.
func BenchmarkSSFPushToDenied(b *testing.B) {
	s := newSSFSystem(b, "")
	var sides []string
	for _, side := range s.sides {
		srv := httptest.NewServer(side.Handler(nil))
		b.Cleanup(srv.Close)
		sides = append(sides, srv.URL)
	}
	iat := time.Now().Add(-time.Minute)
	lat := make([]time.Duration, 0, b.N)
	ans := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sid := fmt.Sprintf("bench-%d-%d", i, time.Now().UnixNano())
		tok := accessToken(b, s.push.Issuer, "bench-user", sid, iat)
		_, set := s.push.SET(ssftest.SessionRevoked, map[string]any{"event_timestamp": time.Now().Unix()},
			map[string]any{"format": "complex", "user": map[string]any{"format": "iss_sub", "iss": s.push.Issuer, "sub": "bench-user"},
				"session": map[string]any{"format": "opaque", "id": sid}})
		for _, side := range sides {
			if c := check(side, tok); c != 204 {
				b.Fatalf("denied before the SET: %d", c)
			}
		}
		b.StartTimer()
		start := time.Now()
		if r := s.pushSET(set); r.code != 202 {
			b.Fatalf("push: %d %s", r.code, r.body)
		}
		ans = append(ans, time.Since(start))
		for _, side := range sides {
			for check(side, tok) != 401 {
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.50), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(ans, 0.50), "answer-p50-ms")
	b.ReportMetric(pct(ans, 0.99), "answer-p99-ms")
}
