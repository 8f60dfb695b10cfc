package publisher

import (
	"context"
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
	// stored receives the epoch of the stream the request's events are
	// in (-1: it could not be read) once Stored was called; nil before.
	stored chan int64

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

// Stored says the request's events are acknowledged: which stream they are
// in is read now (within timeout), and only watermarks of that stream
// confirm them. Without a tracker Stream, the epoch Begin saw is used.
func (w *Wait) Stored(timeout time.Duration) {
	if w.t.epochs == nil {
		return
	}
	w.stored = make(chan int64, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		e := w.t.epochs.after(ctx)
		if e == 0 {
			e = -1 // unknown: nothing confirms
		}
		w.stored <- e
	}()
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
	epoch, stored := w.epoch, w.stored
	for {
		late, conflicts := w.pending(seq, epoch, stored == nil)
		if len(late) == 0 {
			return w.details(nil, conflicts, timeout)
		}
		select {
		case <-w.changed:
		case epoch = <-stored:
			stored = nil
		case <-timer.C:
			return w.details(late, conflicts, timeout)
		}
	}
}

// pending returns the expected sidecars that have not confirmed seq of the
// stream of epoch (none has while the epoch is not known), and those that
// cannot, being run by several instances.
func (w *Wait) pending(seq uint64, epoch int64, known bool) (late, conflicts []string) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	now := time.Now()
	for _, id := range w.expected {
		ok, conflict := w.t.confirmedLocked(id, seq, epoch, now)
		switch {
		case !known && !conflict:
			late = append(late, id)
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
