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

// Tracker knows the live sidecars from their heartbeats and collects their
// outcomes for the requests this front publishes.
type Tracker struct {
	nc              *nats.Conn
	origin          string
	presenceTimeout time.Duration
	log             zerolog.Logger
	onLive          func(n int)

	mu    sync.Mutex
	seen  map[string]seenState // subscriber id → last heartbeat
	waits map[string]*Wait     // request id → collector

	subs []*nats.Subscription
}

type seenState struct {
	at       time.Time
	presence events.Presence
}

// NewTracker subscribes to heartbeats and to this front's outcome subject
// and asks every sidecar for a heartbeat. A sidecar is live while its last
// heartbeat is younger than presenceTimeout. onLive, if set, receives the
// number of live sidecars whenever a heartbeat arrives.
func NewTracker(nc *nats.Conn, origin string, presenceTimeout time.Duration, log zerolog.Logger, onLive func(int)) (*Tracker, error) {
	if err := events.ValidID(origin); err != nil {
		return nil, fmt.Errorf("tracker origin: %w", err)
	}
	t := &Tracker{nc: nc, origin: origin, presenceTimeout: presenceTimeout, log: log, onLive: onLive,
		seen: make(map[string]seenState), waits: make(map[string]*Wait)}
	ps, err := nc.Subscribe(events.PresenceSubject, t.onPresence)
	if err != nil {
		return nil, fmt.Errorf("subscribe to presence: %w", err)
	}
	os, err := nc.Subscribe(events.OutcomeSubject(origin), t.onOutcome)
	if err != nil {
		_ = ps.Unsubscribe()
		return nil, fmt.Errorf("subscribe to outcomes: %w", err)
	}
	_ = ps.SetPendingLimits(-1, 64<<20)
	_ = os.SetPendingLimits(-1, 256<<20)
	t.subs = []*nats.Subscription{ps, os}
	// Ask for heartbeats now rather than waiting for the next interval.
	_ = nc.Publish(events.PresenceProbeSubject, nil)
	return t, nil
}

// Close stops tracking.
func (t *Tracker) Close() {
	for _, s := range t.subs {
		_ = s.Unsubscribe()
	}
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
	if !known {
		t.log.Info().Str("subscriber", p.Subscriber).Bool("ready", p.Ready).Msg("subscriber joined")
	}
	if t.onLive != nil {
		t.onLive(n)
	}
}

func (t *Tracker) liveLocked(now time.Time) int {
	n := 0
	for id, s := range t.seen {
		if now.Sub(s.at) <= t.presenceTimeout {
			n++
		} else if now.Sub(s.at) > 10*t.presenceTimeout {
			delete(t.seen, id)
		}
	}
	return n
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

// Begin starts collecting outcomes for requestID from the sidecars live now.
// Call it before publishing, so no outcome can arrive unseen.
func (t *Tracker) Begin(requestID string) *Wait {
	w := &Wait{t: t, requestID: requestID, got: make(map[string]*progress), changed: make(chan struct{}, 1)}
	for _, id := range t.Live() {
		w.got[id] = &progress{}
	}
	t.mu.Lock()
	t.waits[requestID] = w
	t.mu.Unlock()
	return w
}

// Wait collects the outcomes of one request.
type Wait struct {
	t         *Tracker
	requestID string
	changed   chan struct{}

	mu  sync.Mutex
	got map[string]*progress // expected sidecars only
}

type progress struct {
	applied  int
	failures []events.Failure
}

func (w *Wait) add(o events.Outcome) {
	w.mu.Lock()
	p := w.got[o.Subscriber]
	if p != nil {
		p.applied += o.Applied
		p.failures = append(p.failures, o.Failures...)
	}
	w.mu.Unlock()
	if p != nil {
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
}

// Expected returns the sidecars this request waits for.
func (w *Wait) Expected() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.got))
	for id := range w.got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Finish waits up to timeout until every expected sidecar has accounted for
// all n events (applied or failed), then stops collecting and returns a
// Detail per failure and per sidecar that did not confirm in time. With n
// == 0 or timeout == 0 it does not wait.
func (w *Wait) Finish(n int, timeout time.Duration) []Detail {
	defer func() {
		w.t.mu.Lock()
		delete(w.t.waits, w.requestID)
		w.t.mu.Unlock()
	}()
	if n == 0 || timeout <= 0 {
		return nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for !w.complete(n) {
		select {
		case <-w.changed:
		case <-timer.C:
			return w.details(n, timeout)
		}
	}
	return w.details(n, timeout)
}

func (w *Wait) complete(n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.got {
		if p.applied+len(p.failures) < n {
			return false
		}
	}
	return true
}

func (w *Wait) details(n int, timeout time.Duration) []Detail {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.got))
	for id := range w.got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []Detail
	for _, id := range ids {
		p := w.got[id]
		for _, f := range p.failures {
			out = append(out, Detail{Kind: DetailPropagation, Subscriber: id, Token: f.Token, Rule: f.Rule,
				Err: errors.New(f.Error)})
		}
		if missing := n - p.applied - len(p.failures); missing > 0 {
			out = append(out, Detail{Kind: DetailTimeout, Subscriber: id, Pending: missing, Timeout: timeout})
		}
	}
	return out
}
