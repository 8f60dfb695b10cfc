package subscriber

import (
	"sync"
	"sync/atomic"
	"time"
)

// freshness answers "confirmed caught up within MaxStaleness?" for every
// check without reading the clock: the clock was a fifth of an in-process
// check on this VM (about 60 ns a read). A flag says it, and a timer clears
// it when the last confirmation grows older than MaxStaleness.
//
// Every change of the confirmation time is followed by update, and the
// timer's callback is update too; both read the confirmation time and set
// the flag under one mutex, so the last to run saw the latest time: a
// callback that read an older time cannot clear the flag after a newer
// confirmation set it. While the flag is set a timer is armed, at or before
// the latest deadline, so the flag is cleared when the deadline passes, as
// the clock read used to decide (a confirmation resets it: one timer reset,
// at most once per applied batch).
type freshness struct {
	at  *atomic.Int64 // Unix ns of the last confirmation; 0: none
	max time.Duration

	mu    sync.Mutex
	fresh atomic.Bool
	timer *time.Timer
}

func newFreshness(at *atomic.Int64, max time.Duration) *freshness {
	f := &freshness{at: at, max: max}
	f.timer = time.AfterFunc(time.Hour, f.update)
	f.timer.Stop()
	return f
}

// update sets the flag from the confirmation time; call it after every
// change of that time.
func (f *freshness) update() {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := f.at.Load()
	left := time.Until(time.Unix(0, at).Add(f.max))
	if at == 0 || left <= 0 {
		f.fresh.Store(false)
		return
	}
	f.fresh.Store(true)
	// Armed for this deadline; a callback already waiting on the mutex
	// finds the flag fresh and arms the remainder again, harmlessly.
	f.timer.Reset(left)
}

// stale is the negation of the flag; no clock read.
func (f *freshness) stale() bool { return !f.fresh.Load() }
