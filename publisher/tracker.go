package publisher

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
)

// Tracker knows the live sidecars from their heartbeats, follows how far
// each has applied the stream, and collects the failures they report for
// this front's requests.
type Tracker struct {
	nc              *nats.Conn
	origin          string
	presenceTimeout time.Duration
	log             zerolog.Logger
	onLive          func(n int)

	mu      sync.Mutex
	seen    map[string]seenState // subscriber id → last heartbeat
	applied map[string]uint64    // subscriber id → applied watermark
	waits   map[string]*Wait     // request id → collector

	subs []*nats.Subscription
	msgs chan *nats.Msg
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type seenState struct {
	at       time.Time
	presence events.Presence
}

// NewTracker subscribes to heartbeats, watermarks and this front's outcome
// subject, and asks every sidecar for a heartbeat. A sidecar is live while
// its last heartbeat is younger than presenceTimeout. onLive, if set,
// receives the number of live sidecars whenever a heartbeat arrives.
func NewTracker(nc *nats.Conn, origin string, presenceTimeout time.Duration, log zerolog.Logger, onLive func(int)) (*Tracker, error) {
	if err := events.ValidID(origin); err != nil {
		return nil, fmt.Errorf("tracker origin: %w", err)
	}
	t := &Tracker{nc: nc, origin: origin, presenceTimeout: presenceTimeout, log: log, onLive: onLive,
		seen: make(map[string]seenState), applied: make(map[string]uint64), waits: make(map[string]*Wait),
		msgs: make(chan *nats.Msg, 1<<16), stop: make(chan struct{}), done: make(chan struct{})}
	// One channel for the three subscriptions, read by one goroutine: the
	// client fills it in the order messages arrive, so a sidecar's failure
	// report is always handled before the watermark it sent after it.
	outcomes := events.OutcomeSubject(origin)
	go func() {
		defer close(t.done)
		for {
			var m *nats.Msg
			select {
			case m = <-t.msgs:
			case <-t.stop:
				return
			}
			switch m.Subject {
			case events.PresenceSubject:
				t.onPresence(m)
			case events.AppliedSubject:
				t.onApplied(m)
			case outcomes:
				t.onOutcome(m)
			}
		}
	}()
	for _, subject := range []string{events.PresenceSubject, events.AppliedSubject, outcomes} {
		sub, err := nc.ChanSubscribe(subject, t.msgs)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
		}
		t.subs = append(t.subs, sub)
	}
	// Ask for heartbeats now rather than waiting for the next interval.
	_ = nc.Publish(events.PresenceProbeSubject, nil)
	return t, nil
}

// Close stops tracking. (The channel is never closed: the client may still
// be delivering into it.)
func (t *Tracker) Close() {
	t.once.Do(func() {
		for _, s := range t.subs {
			_ = s.Unsubscribe()
		}
		close(t.stop)
		<-t.done
	})
}

func (t *Tracker) onPresence(m *nats.Msg) {
	var p events.Presence
	if err := json.Unmarshal(m.Data, &p); err != nil || p.Subscriber == "" || len(p.Subscriber) > 256 {
		t.log.Warn().Msg("ignoring a malformed presence heartbeat")
		return
	}
	t.mu.Lock()
	_, known := t.seen[p.Subscriber]
	t.seen[p.Subscriber] = seenState{at: time.Now(), presence: p}
	n := t.liveLocked(time.Now())
	t.mu.Unlock()
	t.advance(p.Subscriber, p.AppliedSeq)
	if !known {
		t.log.Info().Str("subscriber", p.Subscriber).Bool("ready", p.Ready).Msg("subscriber joined")
	}
	if t.onLive != nil {
		t.onLive(n)
	}
}

func (t *Tracker) onApplied(m *nats.Msg) {
	var a events.Applied
	if err := json.Unmarshal(m.Data, &a); err != nil || a.Subscriber == "" || len(a.Subscriber) > 256 {
		return
	}
	t.advance(a.Subscriber, a.Seq)
}

// advance raises a sidecar's watermark and wakes the waiting requests.
func (t *Tracker) advance(id string, seq uint64) {
	t.mu.Lock()
	if seq <= t.applied[id] {
		t.mu.Unlock()
		return
	}
	t.applied[id] = seq
	waits := make([]*Wait, 0, len(t.waits))
	for _, w := range t.waits {
		waits = append(waits, w)
	}
	t.mu.Unlock()
	for _, w := range waits {
		w.poke()
	}
}

func (t *Tracker) liveLocked(now time.Time) int {
	n := 0
	for id, s := range t.seen {
		if now.Sub(s.at) <= t.presenceTimeout {
			n++
		} else if now.Sub(s.at) > 10*t.presenceTimeout {
			delete(t.seen, id)
			delete(t.applied, id)
		}
	}
	return n
}

// Loads returns what each live sidecar reported of its deny-cache.
func (t *Tracker) Loads() []SidecarLoad {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	var out []SidecarLoad
	for id, s := range t.seen {
		if now.Sub(s.at) <= t.presenceTimeout {
			out = append(out, SidecarLoad{ID: id, Capacity: s.presence.Capacity, Entries: s.presence.Entries})
		}
	}
	return out
}

// Live returns the ids of the live sidecars, sorted.
func (t *Tracker) Live() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	var ids []string
	for id, s := range t.seen {
		if now.Sub(s.at) <= t.presenceTimeout {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (t *Tracker) onOutcome(m *nats.Msg) {
	var o events.Outcome
	if err := json.Unmarshal(m.Data, &o); err != nil {
		t.log.Warn().Msg("ignoring a malformed outcome")
		return
	}
	t.mu.Lock()
	w := t.waits[o.RequestID]
	t.mu.Unlock()
	if w != nil {
		w.add(o)
	}
}

// Begin starts collecting for requestID from the sidecars live now. Call it
// before publishing, so no report can arrive unseen.
func (t *Tracker) Begin(requestID string) *Wait {
	w := &Wait{t: t, requestID: requestID, failures: make(map[string][]events.Failure), changed: make(chan struct{}, 1)}
	w.expected = t.Live()
	t.mu.Lock()
	t.waits[requestID] = w
	t.mu.Unlock()
	return w
}

// Wait collects the confirmations of one request.
type Wait struct {
	t         *Tracker
	requestID string
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

func (w *Wait) add(o events.Outcome) {
	w.mu.Lock()
	w.failures[o.Subscriber] = append(w.failures[o.Subscriber], o.Failures...)
	w.mu.Unlock()
	w.poke()
}

// Finish waits up to timeout until every expected sidecar has applied the
// stream up to seq (the request's last event), then stops collecting and
// returns a Detail per reported failure and per sidecar that did not get
// there in time. With seq == 0 or timeout == 0 it does not wait.
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
	for len(w.behind(seq)) > 0 {
		select {
		case <-w.changed:
		case <-timer.C:
			return w.details(seq, timeout)
		}
	}
	return w.details(seq, timeout)
}

// behind returns the expected sidecars that have not reached seq.
func (w *Wait) behind(seq uint64) []string {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	var out []string
	for _, id := range w.expected {
		if w.t.applied[id] < seq {
			out = append(out, id)
		}
	}
	return out
}

func (w *Wait) details(seq uint64, timeout time.Duration) []Detail {
	late := map[string]bool{}
	for _, id := range w.behind(seq) {
		late[id] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Detail
	for _, id := range w.expected {
		for _, f := range w.failures[id] {
			out = append(out, Detail{Kind: DetailPropagation, Subscriber: id, Token: f.Token, Rule: f.Rule,
				Err: errors.New(f.Error)})
		}
		if late[id] {
			out = append(out, Detail{Kind: DetailTimeout, Subscriber: id, Timeout: timeout})
		}
	}
	return out
}
