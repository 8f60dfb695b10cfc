package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/subscriber"
)

// inprocCheck embeds a sidecar (the Go API, subscriber.New) on the same
// stream, waits for its replay, and measures Subscriber.Check with
// testing.Benchmark from every core over tokens (even indexes revoked).
func (h *harness) inprocCheck(ctx context.Context, e *env, tokens []string) error {
	creds, err := e.sidecarCreds("inproc")
	if err != nil {
		return err
	}
	nc, err := e.connect(natsauth.Sidecar, "inproc", creds)
	if err != nil {
		return err
	}
	defer nc.Close()
	dc, err := cache.New(cache.Config{Capacity: cache.DefaultCapacity})
	if err != nil {
		return fmt.Errorf("in-process check: %w", err)
	}
	defer dc.Close()
	sub, err := subscriber.New(subscriber.Config{ID: "inproc"}, nc, dc, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		return fmt.Errorf("in-process check: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sub.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sub.WaitReady(wctx); err != nil {
		return fmt.Errorf("in-process check: replay: %w", err)
	}
	h.progress("check: in-process Subscriber.Check (testing.Benchmark, %d goroutines)", runtime.GOMAXPROCS(0))
	// testing.Benchmark runs for -test.benchtime: register the testing
	// flags (a no-op in a test binary) and set it.
	testing.Init()
	if err := flag.Set("test.benchtime", h.sc.inprocTime); err != nil {
		return fmt.Errorf("in-process check: %w", err)
	}
	var wrong atomic.Int64
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		var worker atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(1)) * 7919
			for pb.Next() {
				k := i % len(tokens)
				if (sub.Check(tokens[k]).Verdict == subscriber.Revoked) != (k%2 == 0) {
					wrong.Add(1)
				}
				i++
			}
		})
	})
	if w := wrong.Load(); w > 0 {
		h.note("check: the in-process check answered %d of %d checks wrongly", w, res.N)
	}
	base, err := bareCheck(tokens)
	if err != nil {
		return err
	}
	h.add(row{measure: "check: in-process `Subscriber.Check`, opaque token, half revoked",
		figure:   fmt.Sprintf("%d ns/op, %d allocs/op", res.NsPerOp(), res.AllocsPerOp()),
		baseline: fmt.Sprintf("%d ns/op, %d allocs/op SHA-256 + one ristretto Get", base.NsPerOp(), base.AllocsPerOp()),
		ratio:    ratio(float64(res.NsPerOp()), float64(base.NsPerOp())), target: "≤ 300 ns, 0 allocs",
		met: met(res.NsPerOp() <= 300 && res.AllocsPerOp() == 0)})
	h.boundInproc(res.NsPerOp(), base.NsPerOp())
	return nil
}

// bareCheck is the least any check does, measured the same way: the
// SHA-256 of the token and one Get in a ristretto cache holding the
// revoked ones (even indexes).
func bareCheck(tokens []string) (testing.BenchmarkResult, error) {
	n := len(tokens) / 2
	c, err := ristretto.NewCache(&ristretto.Config[string, int64]{NumCounters: 10 * int64(n), MaxCost: 2 * int64(n),
		BufferItems: 64, IgnoreInternalCost: true})
	if err != nil {
		return testing.BenchmarkResult{}, fmt.Errorf("ristretto: %w", err)
	}
	defer c.Close()
	key := func(tok string) string {
		s := sha256.Sum256([]byte(tok))
		return string(s[:])
	}
	for round := 0; ; round++ {
		missing := 0
		for i := 0; i < len(tokens); i += 2 {
			if _, ok := c.Get(key(tokens[i])); !ok {
				c.Set(key(tokens[i]), 1, 1)
				missing++
			}
		}
		c.Wait()
		if missing == 0 {
			break
		}
		if round == 100 {
			return testing.BenchmarkResult{}, fmt.Errorf("ristretto: %d entries still missing after 100 rounds", missing)
		}
	}
	var wrong atomic.Int64
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		var worker atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(1)) * 7919
			for pb.Next() {
				k := i % len(tokens)
				s := sha256.Sum256(unsafe.Slice(unsafe.StringData(tokens[k]), len(tokens[k])))
				if _, ok := c.Get(unsafe.String(&s[0], len(s))); ok != (k%2 == 0) {
					wrong.Add(1)
				}
				i++
			}
		})
	})
	if w := wrong.Load(); w > 0 {
		return res, fmt.Errorf("bare check: %d wrong answers", w)
	}
	return res, nil
}

// naiveRistretto measures ristretto's own cost per entry: the heap of a
// cache sized as ristretto recommends (10 counters per entry), empty and
// then holding n entries keyed by 32-byte hashes with a TTL (every entry
// set again until it is in: a naive Set loses many).
func naiveRistretto(n int) (perEntry, fixed float64, err error) {
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c, err := ristretto.NewCache(&ristretto.Config[string, int64]{NumCounters: 10 * int64(n), MaxCost: int64(n) + int64(n)/4,
		BufferItems: 64, IgnoreInternalCost: true})
	if err != nil {
		return 0, 0, fmt.Errorf("ristretto: %w", err)
	}
	defer c.Close()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	key := func(i int) string {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		s := sha256.Sum256(b[:])
		return string(s[:])
	}
	exp := time.Now().Add(time.Hour).UnixNano()
	todo := make([]int, n)
	for i := range todo {
		todo[i] = i
	}
	for round := 0; len(todo) > 0; round++ {
		if round == 100 {
			return 0, 0, fmt.Errorf("ristretto: %d entries still missing after 100 rounds", len(todo))
		}
		for _, i := range todo {
			c.SetWithTTL(key(i), exp, 1, time.Hour)
		}
		c.Wait()
		next := todo[:0]
		for _, i := range todo {
			if _, ok := c.Get(key(i)); !ok {
				next = append(next, i)
			}
		}
		todo = next
	}
	runtime.GC()
	runtime.ReadMemStats(&m2)
	return float64(int64(m2.HeapInuse)-int64(m1.HeapInuse)) / float64(n), float64(int64(m1.HeapInuse) - int64(m0.HeapInuse)), nil
}
