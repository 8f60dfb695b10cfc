package cache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/revocast/revocast/events"
)

const benchEntries = 100_000

func filledCache(b *testing.B) (*DenyCache, []events.Sum) {
	c, err := New(Config{Capacity: 2 * benchEntries})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	sums := make([]events.Sum, benchEntries)
	entries := make([]Entry, benchEntries)
	for i := range sums {
		sums[i] = sumOf(i)
		entries[i] = Entry{Sum: sums[i], ExpiresAt: time.Now().Add(time.Hour)}
	}
	if f := c.Add(context.Background(), entries); len(f) != 0 {
		b.Fatalf("%d not admitted", len(f))
	}
	return c, sums
}

// BenchmarkGet is the deny check on a hit (a revoked token), from every core.
func BenchmarkGet(b *testing.B) {
	c, sums := filledCache(b)
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			i++
			if !c.Contains(sums[i%len(sums)]) {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkGetMiss is the deny check for a token that is not revoked (the common case).
func BenchmarkGetMiss(b *testing.B) {
	c, _ := filledCache(b)
	miss := make([]events.Sum, 1024)
	for i := range miss {
		miss[i] = sumOf(benchEntries + i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if c.Contains(miss[i%len(miss)]) {
				b.Fatal("false positive")
			}
		}
	})
}

// BenchmarkSet is the cost per entry of a verified admission (Set, Wait, Get),
// in batches of 1,000 as the subscriber applies them.
func BenchmarkSet(b *testing.B) {
	c, err := New(Config{Capacity: int64(b.N) + 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	exp := time.Now().Add(time.Hour)
	batch := make([]Entry, 0, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch = append(batch, Entry{Sum: sumOf(i), ExpiresAt: exp})
		if len(batch) == cap(batch) || i == b.N-1 {
			if f := c.Add(context.Background(), batch); len(f) != 0 {
				b.Fatalf("%d not admitted", len(f))
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkRulesMatch is the issued-before check of a JWT's claims with a
// thousand rules held.
func BenchmarkRulesMatch(b *testing.B) {
	rs := NewRules()
	for i := 0; i < 1000; i++ {
		rs.Add(events.Rule{Scope: events.ScopeRealmUser, Realm: "r", User: sumOf(i).Short()}, time.Now(), time.Now().Add(time.Hour))
	}
	iat := time.Now().Add(time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := rs.Match("r", "someone", "client", iat); ok {
				b.Fatal("unexpected match")
			}
		}
	})
}

// BenchmarkNaiveSetLoss measures the trap DenyCache avoids: ristretto Set in a
// tight loop, then Wait, on an empty cache with room for every key. It
// reports the fraction of keys lost (lost/op is per key set).
func BenchmarkNaiveSetLoss(b *testing.B) {
	c, err := ristretto.NewCache(&ristretto.Config[uint64, int64]{
		NumCounters: int64(b.N)*10 + 1000, MaxCost: int64(b.N) + 1000, BufferItems: 64, IgnoreInternalCost: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Set(uint64(i), 1, 1)
	}
	c.Wait()
	b.StopTimer()
	lost := 0
	for i := 0; i < b.N; i++ {
		if _, ok := c.Get(uint64(i)); !ok {
			lost++
		}
	}
	b.ReportMetric(float64(lost)/float64(b.N), "lost/op")
}
