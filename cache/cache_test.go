package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

func sumOf(i int) events.Sum {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return events.TokenKey(string(b[:]))
}

func newCache(t testing.TB, capacity int64) *DenyCache {
	t.Helper()
	c, err := New(Config{Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAddThenContains(t *testing.T) {
	c := newCache(t, 1000)
	in, out := sumOf(1), sumOf(2)
	if f := c.Add(context.Background(), []Entry{{Sum: in, ExpiresAt: time.Now().Add(time.Hour)}}); f != nil {
		t.Fatalf("Add failed: %v", f)
	}
	if !c.Contains(in) {
		t.Error("added entry not found")
	}
	if c.Contains(out) {
		t.Error("entry never added is reported revoked")
	}
	if got := c.Stats().Entries; got != 1 {
		t.Errorf("Entries = %d, want 1", got)
	}
}

func TestExpiredEntriesAreSkippedAndExpire(t *testing.T) {
	c := newCache(t, 1000)
	old, soon := sumOf(1), sumOf(2)
	if f := c.Add(context.Background(), []Entry{
		{Sum: old, ExpiresAt: time.Now().Add(-time.Second)},
		{Sum: soon, ExpiresAt: time.Now().Add(150 * time.Millisecond)},
	}); f != nil {
		t.Fatalf("Add failed: %v", f)
	}
	if c.Contains(old) {
		t.Error("an already expired entry was stored")
	}
	if !c.Contains(soon) {
		t.Fatal("unexpired entry missing")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Contains(soon) {
		if time.Now().After(deadline) {
			t.Fatal("entry still reported revoked after its expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLaterExpiryWins(t *testing.T) {
	c := newCache(t, 1000)
	s := sumOf(7)
	ctx := context.Background()
	long := time.Now().Add(time.Hour)
	c.Add(ctx, []Entry{{Sum: s, ExpiresAt: long}})
	c.Add(ctx, []Entry{{Sum: s, ExpiresAt: time.Now().Add(100 * time.Millisecond)}})
	exp, ok := c.shard(&s).Get(key(&s))
	if !ok || exp != long.UnixNano() {
		t.Fatalf("expiry = %v, %v; want the later one kept", time.Unix(0, exp), ok)
	}
	if got := c.Stats().Entries; got != 1 {
		t.Errorf("Entries = %d, want 1 (an update is not a new entry)", got)
	}
}

// TestMillionRevocations inserts 1,000,000 revocations as fast as it can and
// then finds every one. Naive ristretto use (Set in a loop) loses more than
// half of them on a 2-core machine: see BenchmarkNaiveSetLoss.
func TestMillionRevocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 300 MiB")
	}
	const n = 1_000_000
	c := newCache(t, n)
	exp := time.Now().Add(time.Hour)
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{Sum: sumOf(i), ExpiresAt: exp}
	}
	start := time.Now()
	// Four writers at once, as a replay and live traffic might.
	errs := make(chan []Failure, 4)
	for w := 0; w < 4; w++ {
		go func(part []Entry) { errs <- c.Add(context.Background(), part) }(entries[w*n/4 : (w+1)*n/4])
	}
	for w := 0; w < 4; w++ {
		if f := <-errs; len(f) != 0 {
			t.Fatalf("%d entries not admitted, first: %v", len(f), f[0].Err)
		}
	}
	t.Logf("admitted %d entries in %v (%d retries)", n, time.Since(start), c.Stats().Retries)
	missing := 0
	for i := range entries {
		if !c.Contains(entries[i].Sum) {
			missing++
		}
	}
	if missing != 0 {
		t.Fatalf("%d of %d revocations missing", missing, n)
	}
	if err := c.Health(); err != nil {
		t.Fatalf("Health = %v", err)
	}
}

// TestCapacityExhausted: a full cache either refuses new entries (reported as
// failures) or evicts unexpired ones (reported by Health); never both silent.
// A full cache refuses new entries (ErrFull) instead of letting ristretto
// evict a live one: seen on the old cache, 3,000 revocations into a
// capacity of 1,000 evicted 2,795 unexpired ones.
func TestFullCacheRefusesAndNeverEvicts(t *testing.T) {
	const capacity = 1000
	var evicted atomic.Int64
	c, err := New(Config{Capacity: capacity, MaxAttempts: 3, OnCapacityExhausted: func(Entry) { evicted.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	exp := time.Now().Add(time.Hour)
	var entries []Entry
	for i := 0; i < 3*capacity; i++ {
		entries = append(entries, Entry{Sum: sumOf(i), ExpiresAt: exp})
	}
	var failures []Failure
	for from := 0; from < len(entries); from += 250 { // several batches, as a sidecar applies them
		failures = append(failures, c.Add(context.Background(), entries[from:from+250])...)
	}
	if len(failures) != 2*capacity {
		t.Fatalf("%d failures, want %d", len(failures), 2*capacity)
	}
	for _, f := range failures {
		if !errors.Is(f.Err, ErrFull) {
			t.Fatalf("failure error = %v, want ErrFull", f.Err)
		}
	}
	for i := 0; i < capacity; i++ {
		if !c.Contains(entries[i].Sum) {
			t.Fatalf("entry %d admitted before the cache was full is gone", i)
		}
	}
	if n := evicted.Load() + c.Stats().UnexpiredEvictions; n != 0 || c.Health() != nil {
		t.Fatalf("%d unexpired evictions, health %v", n, c.Health())
	}
	// An entry already present still takes a later expiry when full.
	if f := c.Add(context.Background(), []Entry{{Sum: sumOf(0), ExpiresAt: exp.Add(time.Hour)}}); len(f) != 0 {
		t.Fatalf("update of a present entry refused: %v", f[0].Err)
	}
}

func TestClosed(t *testing.T) {
	c := newCache(t, 10)
	c.Close()
	c.Close() // idempotent
	f := c.Add(context.Background(), []Entry{{Sum: sumOf(1), ExpiresAt: time.Now().Add(time.Hour)}})
	if len(f) != 1 || !errors.Is(f[0].Err, ErrClosed) {
		t.Fatalf("Add after Close = %v", f)
	}
}

func TestNewRejectsBadCapacity(t *testing.T) {
	if _, err := New(Config{Capacity: -1}); err == nil {
		t.Fatal("negative capacity accepted")
	}
}

func TestCloseIsNotCapacityExhaustion(t *testing.T) {
	var reported int
	c, err := New(Config{Capacity: 100, OnCapacityExhausted: func(Entry) { reported++ }})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), []Entry{{Sum: sumOf(1), ExpiresAt: time.Now().Add(time.Hour)}})
	c.Close()
	if reported != 0 || c.Health() != nil {
		t.Fatalf("Close reported %d exhaustion events, Health %v", reported, c.Health())
	}
}

// TestNewRefusesAHugeCapacity: a capacity of 99999999999999 made the
// runtime ask for terabytes and die with a Go stack.
func TestNewRefusesAHugeCapacity(t *testing.T) {
	if _, err := New(Config{Capacity: MaxCapacity + 1}); err == nil {
		t.Fatal("accepted")
	}
}
