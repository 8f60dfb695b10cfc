package publisher

import (
	"errors"
	"sync"
	"time"

	"github.com/revocast/revocast/events"
)

// maxFailuresPerSidecar bounds what one request collects from one sidecar.
const maxFailuresPerSidecar = 10_000

// Begin starts collecting for requestID from the sidecars live and ready
// now. Call it before publishing, so no report can arrive unseen.
func (t *Tracker) Begin(requestID string) *Wait {
	w := &Wait{t: t, requestID: requestID, epoch: t.Epoch(), failures: make(map[string][]events.Failure),
		changed: make(chan struct{}, 1)}
	w.expected = t.waitable()
	t.mu.Lock()
	t.waits[requestID] = w
	t.mu.Unlock()
	return w
}

// Wait collects the confirmations of one request.
type Wait struct {
	t         *Tracker
	requestID string
	epoch     int64
	expected  []string
	changed   chan struct{}

	mu       sync.Mutex
	failures map[string][]events.Failure // per sidecar
}

func (w *Wait) poke() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *Wait) add(id string, fs []events.Failure) {
	w.mu.Lock()
	room := maxFailuresPerSidecar - len(w.failures[id])
	w.failures[id] = append(w.failures[id], fs[:min(len(fs), max(room, 0))]...)
	w.mu.Unlock()
	w.poke()
}

// Finish waits up to timeout until every expected sidecar has applied the
// stream up to seq (the request's last event), then stops collecting and
// returns a Detail per reported failure, per sidecar that did not get there
// in time, and per sidecar whose id two live instances announce. With
// seq == 0 or timeout == 0 it does not wait.
func (w *Wait) Finish(seq uint64, timeout time.Duration) []Detail {
	defer func() {
		w.t.mu.Lock()
		delete(w.t.waits, w.requestID)
		w.t.mu.Unlock()
	}()
	if seq == 0 || timeout <= 0 {
		return nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		late, conflicts := w.pending(seq)
		if len(late) == 0 {
			return w.details(nil, conflicts, timeout)
		}
		select {
		case <-w.changed:
		case <-timer.C:
			return w.details(late, conflicts, timeout)
		}
	}
}

// pending returns the expected sidecars that have not confirmed seq, and
// those that cannot, being run by several instances.
func (w *Wait) pending(seq uint64) (late, conflicts []string) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	now := time.Now()
	for _, id := range w.expected {
		ok, conflict := w.t.confirmedLocked(id, seq, w.epoch, now)
		switch {
		case conflict:
			conflicts = append(conflicts, id)
		case !ok:
			late = append(late, id)
		}
	}
	return late, conflicts
}

func (w *Wait) details(late, conflicts []string, timeout time.Duration) []Detail {
	is := func(list []string, id string) bool {
		for _, x := range list {
			if x == id {
				return true
			}
		}
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Detail
	for _, id := range w.expected {
		if is(conflicts, id) {
			out = append(out, Detail{Kind: DetailConflict, Subscriber: id})
			continue
		}
		for _, f := range w.failures[id] {
			out = append(out, Detail{Kind: DetailPropagation, Subscriber: id, Token: f.Token, Rule: events.FailureText(f.Rule),
				Err: errors.New(events.FailureText(f.Error))})
		}
		if is(late, id) {
			out = append(out, Detail{Kind: DetailTimeout, Subscriber: id, Timeout: timeout})
		}
	}
	return out
}
