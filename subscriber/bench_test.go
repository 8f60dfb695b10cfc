package subscriber

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
)

// BenchmarkCheck is the whole Go-API check of an opaque token (hash, gate,
// cache) from every core, half revoked.
func BenchmarkCheck(b *testing.B) {
	s := fuzzSubscriber(b)
	toks := make([]string, 1024)
	var entries []cache.Entry
	for i := range toks {
		toks[i] = fmt.Sprintf("opaque-token-%040d", i)
		if i%2 == 0 {
			entries = append(entries, cache.Entry{Sum: events.TokenKey(toks[i]), ExpiresAt: time.Now().Add(time.Hour)})
		}
	}
	s.cache.Add(context.Background(), entries)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if d := s.Check(toks[i%len(toks)]); (d.Verdict == Revoked) != (i%len(toks)%2 == 0) {
				b.Fatalf("wrong verdict %v for token %d", d.Verdict, i%len(toks))
			}
		}
	})
}

// BenchmarkCheckJWT checks a JWT against issued-before rules (claims parsed).
func BenchmarkCheckJWT(b *testing.B) {
	s := fuzzSubscriber(b)
	tok := jwtToken(fmt.Sprintf(`{"iss":"y","sub":"alice","azp":"app","iat":%d}`, time.Now().Unix()))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d := s.Check(tok); d.Verdict != Allowed {
				b.Fatal(d)
			}
		}
	})
}

// BenchmarkCheckHTTPHandler is GET /v1/check through the handler, without the network.
func BenchmarkCheckHTTPHandler(b *testing.B) {
	s := fuzzSubscriber(b)
	h := s.Handler(nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/v1/check", nil)
		r.Header.Set("Authorization", "Bearer some-opaque-token")
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 204 {
				b.Fatal(w.Code)
			}
		}
	})
}

// BenchmarkReplay is a sidecar's start: replaying live token revocations
// into an empty cache until it is ready, from single-token events or from
// batch events (as bulk revocations store them), side by side. Run with
// -benchtime 1x.
func BenchmarkReplay(b *testing.B) {
	for _, c := range []struct {
		name  string
		n     int
		batch bool
	}{{"single/n=200k", 200_000, false}, {"batch/n=200k", 200_000, true}, {"batch/n=1M", 1_000_000, true}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			exp := time.Now().Add(time.Hour)
			if c.batch {
				items := make([]events.TokenItem, 0, events.MaxBatch)
				for i, batch := 0, 0; i < c.n; i++ {
					items = append(items, events.TokenItem{Token: events.TokenKey(fmt.Sprint("replay-", i)), ExpiresAt: exp})
					if len(items) == events.MaxBatch {
						e.append(b, events.NewTokenBatch("bench", batch, items, time.Now()))
						items, batch = items[:0], batch+1
					}
				}
			} else {
				e.appendMany(b, c.n, exp)
			}
			for i := 0; i < b.N; i++ {
				dc, err := cache.New(cache.Config{Capacity: int64(c.n)})
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				start := time.Now()
				s := startSub(b, e, Config{ID: fmt.Sprint("replay-", i)}, dc)
				waitReady(b, s)
				b.ReportMetric(time.Since(start).Seconds(), "replay-s")
				b.StopTimer()
				if s.Check("replay-7").Verdict != Revoked || s.Check(fmt.Sprint("replay-", c.n-1)).Verdict != Revoked {
					b.Fatal("not every revocation replayed")
				}
			}
		})
	}
}

// BenchmarkServeCheck is the hot route as the sidecar serves it (no mux, no
// middleware), for comparison with BenchmarkCheckHTTPHandler.
func BenchmarkServeCheck(b *testing.B) {
	s := fuzzSubscriber(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/v1/check", nil)
		r.Header.Set("Authorization", "Bearer some-opaque-token")
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			s.ServeCheck(w, r)
			if w.code != 204 {
				b.Fatal(w.code)
			}
		}
	})
}

type nopWriter struct {
	h    http.Header
	code int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }
