package subscriber

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The flag follows the clock as the per-check clock read did: fresh after
// a confirmation, stale once it is older than MaxStaleness (the timer),
// fresh again after the next one, and stale at once after a reset to 0 or
// a confirmation already older than MaxStaleness.
func TestFreshnessFollowsTheConfirmations(t *testing.T) {
	var at atomic.Int64
	f := newFreshness(&at, 300*time.Millisecond)
	if !f.stale() {
		t.Fatal("fresh before any confirmation")
	}
	at.Store(time.Now().UnixNano())
	f.update()
	if f.stale() {
		t.Fatal("stale right after a confirmation")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !f.stale() {
		if time.Now().After(deadline) {
			t.Fatal("still fresh 5 s after a confirmation with MaxStaleness 300 ms")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
	if age := time.Since(time.Unix(0, at.Load())); age < 300*time.Millisecond {
		t.Fatalf("stale after %v, before MaxStaleness", age)
	}
	at.Store(time.Now().UnixNano())
	f.update()
	if f.stale() {
		t.Fatal("stale right after a new confirmation")
	}
	at.Store(time.Now().Add(-time.Second).UnixNano())
	f.update()
	if !f.stale() {
		t.Fatal("fresh after a confirmation older than MaxStaleness")
	}
	at.Store(0)
	f.update()
	if !f.stale() {
		t.Fatal("fresh after a reset")
	}
}

// Confirmations racing the timer never leave the flag stale after the
// latest of them (the timer's callback reading an older time must not
// clear the flag a newer confirmation set).
func TestFreshnessRacingTheTimerEndsFresh(t *testing.T) {
	var at atomic.Int64
	f := newFreshness(&at, time.Second)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				at.Store(time.Now().UnixNano())
				f.update()
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		f.update() // what the timer's callback does
	}
	wg.Wait()
	if f.stale() {
		t.Fatal("stale after the last confirmation")
	}
}
