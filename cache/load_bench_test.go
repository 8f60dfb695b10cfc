package cache

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkLoadMillion admits a million entries in batches of 1,000, as a
// sidecar replaying the stream does, and reports the time per entry and the
// heap each entry costs (ristretto's and ours), beside the heap of an empty
// cache of the same capacity (its fixed overhead).
func BenchmarkLoadMillion(b *testing.B) {
	const n = 1_000_000
	exp := time.Now().Add(time.Hour)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var m0, m1, m2 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c, err := New(Config{Capacity: n})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		start := time.Now()
		batch := make([]Entry, 0, 1000)
		for k := 0; k < n; k++ {
			batch = append(batch, Entry{Sum: sumOf(k), ExpiresAt: exp})
			if len(batch) == cap(batch) {
				if f := c.Add(context.Background(), batch); len(f) != 0 {
					b.Fatalf("%d not admitted: %v", len(f), f[0].Err)
				}
				batch = batch[:0]
			}
		}
		took := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&m2)
		b.ReportMetric(float64(took.Nanoseconds())/n, "ns/entry")
		b.ReportMetric(float64(m2.HeapInuse-m1.HeapInuse)/n, "heap-B/entry")
		b.ReportMetric(float64(m1.HeapInuse-m0.HeapInuse)/(1<<20), "fixed-MiB")
		c.Close()
	}
}
