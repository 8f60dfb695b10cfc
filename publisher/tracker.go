package publisher

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
)

// DefaultMaxSidecars bounds the sidecars a front tracks.
const DefaultMaxSidecars = 10_000

// maxInstances bounds the instances remembered per sidecar id.
const maxInstances = 4

// maxStatusSize bounds a heartbeat or failure report a front reads.
const maxStatusSize = 256 << 10

// TrackerConfig configures a Tracker.
type TrackerConfig struct {
	// Origin names this front on the failure report subjects.
	Origin string
	// PresenceTimeout: a sidecar silent this long is no longer live.
	PresenceTimeout time.Duration
	// MaxSidecars bounds the sidecars tracked (DefaultMaxSidecars when 0):
	// a new id past it is ignored and counted.
	MaxSidecars int
	// OnLive receives the number of live sidecars, OnConflicts the ids run
	// by more than one live instance, OnRefused each sidecar id refused
	// past MaxSidecars (all optional).
	OnLive      func(n int)
	OnConflicts func(ids []string)
	OnRefused   func()
	// Stream is the revocation stream: a request's confirmations count
	// only in the stream its events were stored in, read after they were
	// (see Wait.Stored). Empty: in the one SetEpoch last recorded.
	Stream string
}

// Tracker knows the live sidecars from their heartbeats, follows how far
// each has applied the stream from its watermarks, and collects the
// failures they report for this front's requests. A sidecar's identity is
// the id in the subject it publishes on, which NATS permissions confine it
// to; nothing in a payload is trusted to name a sidecar.
type Tracker struct {
	nc  *nats.Conn
	cfg TrackerConfig
	log zerolog.Logger

	mu        sync.Mutex
	sidecars  map[string]*sidecar
	waits     map[string]*Wait
	conflicts []string
	refusedAt time.Time // last log of a refused id

	epoch  atomic.Int64 // the stream's creation (Unix ns) as this front knows it; 0: unknown
	epochs *epochReader // nil without cfg.Stream

	subs []*nats.Subscription
	msgs chan *nats.Msg
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// sidecar is one sidecar id and the instances that announced it.
type sidecar struct {
	instances map[string]*instance
}

type instance struct {
	lastBeat  time.Time // zero: no heartbeat yet
	beat      events.Heartbeat
	watermark uint64
	epoch     int64
}

// NewTracker subscribes to the sidecars' status subjects and this front's
// failure reports, and asks every sidecar for a heartbeat.
func NewTracker(nc *nats.Conn, cfg TrackerConfig, log zerolog.Logger) (*Tracker, error) {
	if err := events.ValidID(cfg.Origin); err != nil {
		return nil, fmt.Errorf("tracker origin: %w", err)
	}
	if cfg.MaxSidecars <= 0 {
		cfg.MaxSidecars = DefaultMaxSidecars
	}
	t := &Tracker{nc: nc, cfg: cfg, log: log, sidecars: map[string]*sidecar{}, waits: map[string]*Wait{},
		msgs: make(chan *nats.Msg, 1<<16), stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.Stream != "" {
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, fmt.Errorf("tracker: %w", err)
		}
		t.epochs = &epochReader{js: js, stream: cfg.Stream}
	}
	// One channel for the subscriptions, read by one goroutine: the client
	// fills it in the order messages arrive, so a sidecar's failure report
	// is handled before the watermark it sent after it.
	go t.loop()
	for _, subject := range []string{"revocast.status.*." + events.StatusHeartbeat, "revocast.status.*." + events.StatusApplied,
		events.FailuresSubjects(cfg.Origin)} {
		sub, err := nc.ChanSubscribe(subject, t.msgs)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
		}
		_ = sub.SetPendingLimits(-1, 64<<20)
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

func (t *Tracker) loop() {
	defer close(t.done)
	for {
		var m *nats.Msg
		select {
		case m = <-t.msgs:
		case <-t.stop:
			return
		}
		id, kind, _, ok := events.ParseStatusSubject(m.Subject)
		if !ok {
			continue
		}
		switch kind {
		case events.StatusHeartbeat:
			t.onHeartbeat(id, m.Data)
		case events.StatusApplied:
			t.onWatermark(id, m.Data)
		case events.StatusFailures:
			t.onFailures(id, m.Data)
		}
	}
}

// SetEpoch records the stream's creation time as this front knows it: a
// watermark of another stream confirms nothing.
func (t *Tracker) SetEpoch(created time.Time) { t.epoch.Store(created.UnixNano()) }

// Epoch returns the stream's creation time as this front knows it (Unix ns, 0 unknown).
func (t *Tracker) Epoch() int64 { return t.epoch.Load() }

// instanceLocked returns the instance of sidecar id, creating both when
// allowed; nil when id is new and MaxSidecars are tracked already.
func (t *Tracker) instanceLocked(id, inst string, now time.Time) *instance {
	sc := t.sidecars[id]
	if sc == nil {
		if len(t.sidecars) >= t.cfg.MaxSidecars {
			t.pruneLocked(now)
		}
		if len(t.sidecars) >= t.cfg.MaxSidecars {
			if t.cfg.OnRefused != nil {
				t.cfg.OnRefused()
			}
			if now.Sub(t.refusedAt) > time.Minute {
				t.refusedAt = now
				t.log.Error().Int("max_sidecars", t.cfg.MaxSidecars).
					Msg("more sidecars announce themselves than --max-sidecars: the new ones are not tracked")
			}
			return nil
		}
		sc = &sidecar{instances: map[string]*instance{}}
		t.sidecars[id] = sc
	}
	in := sc.instances[inst]
	if in == nil {
		if len(sc.instances) >= maxInstances {
			oldest := ""
			for k, v := range sc.instances {
				if oldest == "" || v.lastBeat.Before(sc.instances[oldest].lastBeat) {
					oldest = k
				}
			}
			delete(sc.instances, oldest)
		}
		in = &instance{}
		sc.instances[inst] = in
	}
	return in
}

func (t *Tracker) onHeartbeat(id string, data []byte) {
	var hb events.Heartbeat
	if len(data) > maxStatusSize || json.Unmarshal(data, &hb) != nil || hb.Instance == "" || len(hb.Instance) > 64 {
		t.log.Warn().Str("subscriber", id).Msg("ignoring an unreadable heartbeat")
		return
	}
	now := time.Now()
	t.mu.Lock()
	known := t.sidecars[id] != nil
	in := t.instanceLocked(id, hb.Instance, now)
	if in == nil {
		t.mu.Unlock()
		return
	}
	in.lastBeat, in.beat = now, hb
	n := t.liveLocked(now)
	conflicts := t.conflictsLocked(now)
	changed := !equalStrings(conflicts, t.conflicts)
	t.conflicts = conflicts
	t.mu.Unlock()
	if !known {
		t.log.Info().Str("subscriber", id).Bool("ready", hb.Ready).Msg("subscriber joined")
	}
	if changed {
		for _, c := range conflicts {
			t.log.Error().Str("subscriber", c).
				Msg("two live instances announce one sidecar id: neither is trusted to confirm revocations; give each sidecar its own --id")
		}
		if t.cfg.OnConflicts != nil {
			t.cfg.OnConflicts(conflicts)
		}
	}
	if t.cfg.OnLive != nil {
		t.cfg.OnLive(n)
	}
	t.pokeAll()
}

func (t *Tracker) onWatermark(id string, data []byte) {
	w, err := events.DecodeWatermark(data)
	if err != nil {
		return
	}
	// A sidecar can only lie about itself: NATS confines it to its own
	// subjects, and its id is taken from the subject.
	seq := w.Seq
	t.mu.Lock()
	in := t.instanceLocked(id, w.Instance, time.Now())
	advanced := in != nil && (seq > in.watermark || w.Epoch != in.epoch)
	if advanced {
		in.watermark, in.epoch = seq, w.Epoch
	}
	t.mu.Unlock()
	if advanced {
		t.pokeAll()
	}
}

func (t *Tracker) onFailures(id string, data []byte) {
	var r events.FailureReport
	if len(data) > maxStatusSize || json.Unmarshal(data, &r) != nil {
		t.log.Warn().Str("subscriber", id).Msg("ignoring an unreadable failure report")
		return
	}
	t.mu.Lock()
	w := t.waits[r.RequestID]
	t.mu.Unlock()
	if w != nil {
		w.add(id, r.Failures)
	}
}

func (t *Tracker) pokeAll() {
	t.mu.Lock()
	waits := make([]*Wait, 0, len(t.waits))
	for _, w := range t.waits {
		waits = append(waits, w)
	}
	t.mu.Unlock()
	for _, w := range waits {
		w.poke()
	}
}

// liveInstancesLocked returns the instances of sidecar id heard from within
// the presence timeout.
func (t *Tracker) liveInstancesLocked(sc *sidecar, now time.Time) []*instance {
	var out []*instance
	for _, in := range sc.instances {
		if !in.lastBeat.IsZero() && now.Sub(in.lastBeat) <= t.cfg.PresenceTimeout {
			out = append(out, in)
		}
	}
	return out
}

func (t *Tracker) liveLocked(now time.Time) int {
	n := 0
	for _, sc := range t.sidecars {
		if len(t.liveInstancesLocked(sc, now)) > 0 {
			n++
		}
	}
	return n
}

func (t *Tracker) conflictsLocked(now time.Time) []string {
	var out []string
	for id, sc := range t.sidecars {
		if len(t.liveInstancesLocked(sc, now)) > 1 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// pruneLocked forgets sidecars silent for ten presence timeouts.
func (t *Tracker) pruneLocked(now time.Time) {
	for id, sc := range t.sidecars {
		latest := time.Time{}
		for _, in := range sc.instances {
			if in.lastBeat.After(latest) {
				latest = in.lastBeat
			}
		}
		if now.Sub(latest) > 10*t.cfg.PresenceTimeout {
			delete(t.sidecars, id)
		}
	}
}

// Live returns the ids of the live sidecars, sorted.
func (t *Tracker) Live() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	var ids []string
	for id, sc := range t.sidecars {
		if len(t.liveInstancesLocked(sc, now)) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// waitable returns the ids of the live sidecars a request waits for: those
// that said they are ready, or several instances announce (a conflict the
// request reports). A sidecar still replaying fails closed, and applies the
// request's events when it gets to them, so nobody waits for it.
func (t *Tracker) waitable() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	var ids []string
	for id, sc := range t.sidecars {
		live := t.liveInstancesLocked(sc, now)
		if len(live) > 1 || (len(live) == 1 && live[0].beat.Ready) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Conflicts returns the sidecar ids announced by more than one live
// instance, sorted.
func (t *Tracker) Conflicts() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conflictsLocked(time.Now())
}

// Loads returns what each live sidecar reported of its deny-cache (for an
// id run twice, the smaller capacity and the larger count).
func (t *Tracker) Loads() []SidecarLoad {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	var out []SidecarLoad
	for id, sc := range t.sidecars {
		l := SidecarLoad{ID: id}
		for i, in := range t.liveInstancesLocked(sc, now) {
			if i == 0 || in.beat.Capacity < l.Capacity {
				l.Capacity = in.beat.Capacity
			}
			l.Entries = max(l.Entries, in.beat.Entries)
		}
		if l.Capacity > 0 {
			out = append(out, l)
		}
	}
	return out
}

// confirmedLocked reports whether sidecar id has applied seq of the stream
// of epoch (0: any), and whether it runs as several instances.
func (t *Tracker) confirmedLocked(id string, seq uint64, epoch int64, now time.Time) (ok, conflict bool) {
	sc := t.sidecars[id]
	if sc == nil {
		return false, false
	}
	live := t.liveInstancesLocked(sc, now)
	if len(live) > 1 {
		return false, true
	}
	for _, in := range live {
		if in.watermark >= seq && (epoch == 0 || in.epoch == epoch) {
			return true, false
		}
	}
	return false, false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
