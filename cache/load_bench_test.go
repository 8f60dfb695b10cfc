package cache

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/revocast/revocast/events"
)

// BenchmarkLoadMillion admits a million entries in batches of 1,000, as a
// sidecar replaying the stream does, and reports the time per entry, the
// heap each entry costs and the heap of the empty cache (its fixed
// overhead), beside two bare ristretto caches loaded with the same keys in
// the same run:
//
//   - naive: ristretto as its README configures it (NumCounters ten times
//     the entries, string keys hashed by ristretto, the expiry as a TTL and
//     as the value), each Set retried until taken, then Wait;
//   - floor: the least a ristretto cache can hold per key (no value, no
//     TTL, the hash's own bits as ristretto's key hashes): what its store
//     and its policy cost per entry, whatever DenyCache does on top.
//
// Run with -benchtime 1x.
func BenchmarkLoadMillion(b *testing.B) {
	const n = 1_000_000
	sums := make([]events.Sum, n)
	for i := range sums {
		sums[i] = sumOf(i)
	}
	// Expiries spread over a day, as live revocations' are: ristretto
	// keeps a map of keys per 5 seconds of expiry.
	now := time.Now()
	exps := make([]time.Time, n)
	for i := range exps {
		exps[i] = now.Add(time.Hour + time.Duration(i)*(23*time.Hour/n))
	}
	b.Run("denycache", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var c *DenyCache
			measureLoad(b, n, func() {
				var err error
				if c, err = New(Config{Capacity: n}); err != nil {
					b.Fatal(err)
				}
			}, func() {
				batch := make([]Entry, 0, 1000)
				for k := range sums {
					batch = append(batch, Entry{Sum: sums[k], ExpiresAt: exps[k]})
					if len(batch) == cap(batch) {
						if f := c.Add(context.Background(), batch); len(f) != 0 {
							b.Fatalf("%d not admitted: %v", len(f), f[0].Err)
						}
						batch = batch[:0]
					}
				}
			})
			for k := 0; k < n; k += 9973 {
				if !c.Contains(sums[k]) {
					b.Fatalf("entry %d missing", k)
				}
			}
			c.Close()
		}
	})
	b.Run("naive", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var c *ristretto.Cache[string, int64]
			measureLoad(b, n, func() {
				var err error
				c, err = ristretto.NewCache(&ristretto.Config[string, int64]{NumCounters: 10 * n, MaxCost: n,
					BufferItems: 64, IgnoreInternalCost: true})
				if err != nil {
					b.Fatal(err)
				}
			}, func() {
				for k := range sums {
					for !c.SetWithTTL(string(sums[k][:]), exps[k].UnixNano(), 1, time.Until(exps[k])) {
						c.Wait()
					}
				}
				c.Wait()
			})
			c.Close()
		}
	})
	b.Run("floor", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var c *ristretto.Cache[string, struct{}]
			measureLoad(b, n, func() {
				var err error
				c, err = ristretto.NewCache(&ristretto.Config[string, struct{}]{NumCounters: n / 4, MaxCost: 2 * n,
					BufferItems: 64, IgnoreInternalCost: true, KeyToHash: keyHash})
				if err != nil {
					b.Fatal(err)
				}
			}, func() {
				for k := range sums {
					for !c.Set(key(&sums[k]), struct{}{}, 1) {
						c.Wait()
					}
				}
				c.Wait()
			})
			c.Close()
		}
	})
}

// measureLoad reports the heap make leaves (fixed-MiB) and what load adds
// per entry (heap-B/entry, after a collection) and takes (ns/entry).
func measureLoad(b *testing.B, n int, make, load func()) {
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	make()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	start := time.Now()
	load()
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&m2)
	b.ReportMetric(float64(took.Nanoseconds())/float64(n), "ns/entry")
	b.ReportMetric(float64(m2.HeapInuse-m1.HeapInuse)/float64(n), "heap-B/entry")
	b.ReportMetric(float64(m1.HeapInuse-m0.HeapInuse)/(1<<20), "fixed-MiB")
}
