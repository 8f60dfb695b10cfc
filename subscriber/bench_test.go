package subscriber

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
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
// into an empty cache until it is ready, from single-token events, from
// batch events as fronts store them (binary) and as earlier fronts stored
// them (JSON). Beside each it reports raw-s, an ordered consumer reading
// the same stream on the same server and doing nothing with it: the floor
// a replay cannot go below; and replay-cpu-s, the CPU the process (server
// included) spent replaying. Run with -benchtime 1x.
func BenchmarkReplay(b *testing.B) {
	for _, c := range []struct {
		name       string
		n          int
		batch, raw bool // batch events; stored as JSON
	}{{"single/n=200k", 200_000, false, false}, {"batch-json/n=1M", 1_000_000, true, true},
		{"batch/n=1M", 1_000_000, true, false}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			exp := time.Now().Add(time.Hour)
			if c.batch {
				items := make([]events.TokenItem, 0, events.MaxBatch)
				for i, batch := 0, 0; i < c.n; i++ {
					items = append(items, events.TokenItem{Token: events.TokenKey(fmt.Sprint("replay-", i)), TokenType: events.AccessToken, ExpiresAt: exp})
					if len(items) == events.MaxBatch {
						ev := events.NewTokenBatch("bench", batch, items, time.Now())
						if c.raw {
							e.appendJSON(b, ev)
						} else {
							e.append(b, ev)
						}
						items, batch = items[:0], batch+1
					}
				}
			} else {
				e.appendMany(b, c.n, exp)
			}
			for i := 0; i < b.N; i++ {
				raw := e.rawConsume(b)
				dc, err := cache.New(cache.Config{Capacity: int64(c.n)})
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				start, cpu0 := time.Now(), processCPU()
				s := startSub(b, e, Config{ID: fmt.Sprint("replay-", i)}, dc)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				if err := s.WaitReady(ctx); err != nil {
					b.Fatal(err)
				}
				cancel()
				took, cpu := time.Since(start), processCPU()-cpu0
				b.StopTimer()
				b.ReportMetric(took.Seconds(), "replay-s")
				b.ReportMetric(raw.Seconds(), "raw-s")
				b.ReportMetric(cpu.Seconds(), "replay-cpu-s")
				if s.Check("replay-7").Verdict != Revoked || s.Check(fmt.Sprint("replay-", c.n-1)).Verdict != Revoked {
					b.Fatal("not every revocation replayed")
				}
			}
		})
	}
}

// processCPU is the CPU this process has used (the embedded server's too).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// appendJSON stores an event as JSON, as fronts stored batches before the
// binary encoding.
func (e *env) appendJSON(t testing.TB, ev events.Event) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), ev.Subject(), b,
		jetstream.WithMsgTTL(events.MsgTTL(ev.ExpiresAt, time.Now()))); err != nil {
		t.Fatal(err)
	}
}

// rawConsume reads the whole stream with an ordered consumer and returns
// how long it took.
func (e *env) rawConsume(t testing.TB) time.Duration {
	t.Helper()
	ctx := context.Background()
	st, err := e.js.Stream(ctx, events.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	want := st.CachedInfo().State.Msgs
	start := time.Now()
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var got uint64
	cc, err := cons.Consume(func(jetstream.Msg) {
		if got++; got == want {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("raw consume: %d of %d messages in a minute", got, want)
	}
	return time.Since(start)
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

// BenchmarkApply is what a sidecar does with each delivered revocation
// when it follows the stream at 1,000 a second: b.N single-token events,
// stored as a front stores them and fetched from JetStream beforehand (real
// delivered messages, metadata and all), are handed to the sidecar one a
// millisecond, each applied on its own (as one arriving alone is): read,
// admitted to the deny-cache, reported, confirmed by a watermark on a real
// NATS connection. It reports the CPU and allocations of the process over
// that time per event: the apply path without the client's reading of the
// socket (BenchmarkSidecarFollow in cmd/revocast measures whole sidecars);
// beside it, idle-cpu: the same paced loop applying nothing.
func BenchmarkApply(b *testing.B) {
	e := newEnv(b)
	for i := 0; i < b.N; i++ {
		ev := revokeToken(fmt.Sprint("apply-", i))
		ev.RequestID, ev.Origin = fmt.Sprint("req", i), "front"
		e.append(b, ev)
	}
	ctx := context.Background()
	st, err := e.js.Stream(ctx, events.DefaultStreamName)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]jetstream.Msg, 0, b.N)
	for len(msgs) < b.N {
		batch, err := cons.Fetch(b.N-len(msgs), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if batch.Error() != nil {
			b.Fatal(batch.Error())
		}
	}
	dc, err := cache.New(cache.Config{Capacity: int64(b.N) + 1000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(dc.Close)
	s, err := New(Config{ID: "apply", BatchSize: 1}, natstest.Connect(b, e.ns), dc, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	// The same paced loop applying nothing: what the pacing costs.
	paced := func(apply func(jetstream.Msg)) (cpu time.Duration, allocs, bytes uint64) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0 := processCPU()
		start := time.Now()
		for i, m := range msgs {
			if d := time.Until(start.Add(time.Duration(i) * time.Millisecond)); d > 0 {
				time.Sleep(d)
			}
			apply(m)
		}
		cpu = processCPU() - cpu0
		runtime.ReadMemStats(&m1)
		return cpu, m1.Mallocs - m0.Mallocs, m1.TotalAlloc - m0.TotalAlloc
	}
	b.ResetTimer()
	idle, _, _ := paced(func(jetstream.Msg) {})
	cpu, allocs, bytes := paced(s.onMsg)
	b.StopTimer()
	if !dc.Contains(events.TokenKey(fmt.Sprint("apply-", b.N-1))) {
		b.Fatal("the last revocation was not applied")
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-us/event")
	b.ReportMetric(float64(idle.Nanoseconds())/1e3/float64(b.N), "idle-cpu-us/event")
	b.ReportMetric(float64(allocs)/float64(b.N), "allocs/event")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/event")
}
