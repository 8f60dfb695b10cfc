package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/eventsio"
)

// infoReport is what events info prints (--json: as is).
type infoReport struct {
	Stream   streamReport           `json:"stream"`
	Kinds    map[string]*kindReport `json:"kinds"`
	Ledger   *ledgerReport          `json:"ledger,omitempty"`
	Sidecars []sidecarReport        `json:"sidecars"`
	// ListenedSeconds is how long sidecars' heartbeats and watermarks were
	// listened to.
	ListenedSeconds float64 `json:"listened_seconds"`
}

type streamReport struct {
	Name      string        `json:"name"`
	Created   time.Time     `json:"created"`
	FirstSeq  uint64        `json:"first_seq"`
	LastSeq   uint64        `json:"last_seq"`
	Messages  uint64        `json:"messages"`
	Bytes     uint64        `json:"bytes"`
	Consumers int           `json:"consumers"`
	Oldest    *time.Time    `json:"oldest,omitempty"` // when the oldest message it holds was stored
	Newest    *time.Time    `json:"newest,omitempty"`
	TTLMin    *float64      `json:"ttl_left_min_seconds,omitempty"` // per-message TTL left, over the messages
	TTLMax    *float64      `json:"ttl_left_max_seconds,omitempty"`
	Mirror    *mirrorReport `json:"mirror,omitempty"`
}

// mirrorReport: the stream is a region's mirror of the revocation stream.
type mirrorReport struct {
	OriginDomain  string     `json:"origin_domain,omitempty"`
	OriginCreated *time.Time `json:"origin_created,omitempty"`
	Lag           uint64     `json:"lag"`
	ActiveSeconds float64    `json:"active_seconds"` // since it last heard from its origin; -1 never
	Error         string     `json:"error,omitempty"`
}

type kindReport struct {
	Messages int64 `json:"messages"`
	Tokens   int64 `json:"tokens"` // token keys (a batch's count them all); 0 for rules
	Bytes    int64 `json:"bytes"`  // payload bytes
}

type ledgerReport struct {
	Name       string `json:"name"`
	Messages   uint64 `json:"messages"`
	Bytes      uint64 `json:"bytes"`
	TokenMarks int64  `json:"token_marks"`
	RuleMarks  int64  `json:"rule_marks"`
	Realms     int    `json:"realms"` // distinct realm keys among the marks
}

type sidecarReport struct {
	ID       string `json:"id"`
	Instance string `json:"instance,omitempty"`
	Ready    bool   `json:"ready"`
	Stale    bool   `json:"stale"`
	Healthy  bool   `json:"healthy"`
	Capacity int64  `json:"capacity,omitempty"`
	Entries  int64  `json:"entries,omitempty"`
	// Applied is the highest sequence it said it applied (watermark or
	// heartbeat); Lag the stream's last sequence minus it, when it follows
	// this stream (Epoch matches).
	Applied       uint64  `json:"applied_seq,omitempty"`
	Lag           *int64  `json:"lag,omitempty"`
	OtherStream   bool    `json:"follows_another_stream,omitempty"`
	HeardSecsAgo  float64 `json:"heard_seconds_ago"`
	HeardApplied  bool    `json:"heard_applied"` // a watermark or an applied sequence arrived
	epoch         int64
	lastHeard     time.Time
	appliedHeard  bool
	watermarkSeen bool
}

func runEventsInfo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o eventsOpts
	fs := newFlagSet("events info", "Say what the revocation stream and its ledger hold (messages by kind, bytes, times, TTLs left, sequences),\n"+
		"and which sidecars are live and how far behind they are: it listens to their heartbeats and watermarks\n"+
		"(revocast.status.*) for --listen; a sidecar's lag is the stream's last sequence minus what it applied.\n"+
		"Needs the operator's NATS identity (it reads REVOCAST and REVOCAST_LEDGER).", stderr)
	o.register(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	listen := fs.Duration("listen", 2*time.Second, "how long to listen to the sidecars")
	if err := o.parse(fs, args, getenv, func() error { return positiveDuration("listen", *listen, false) }); err != nil {
		return err
	}
	nc, js, err := o.connect("revocast-events-info", stderr)
	if err != nil {
		return err
	}
	defer nc.Close()

	l, err := listenSidecars(nc)
	if err != nil {
		return err
	}
	defer l.stop()
	listenUntil := time.Now().Add(*listen)
	rep, err := streamInfo(ctx, js, o.streamOptions())
	if err != nil {
		return o.operatorHint(err)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(listenUntil)):
	}
	rep.ListenedSeconds = listen.Seconds()
	epoch := rep.Stream.Created.UnixNano()
	if m := rep.Stream.Mirror; m != nil && m.OriginCreated != nil {
		epoch = m.OriginCreated.UnixNano() // what sidecars reading a mirror announce
	}
	rep.Sidecars = l.report(rep.Stream.LastSeq, epoch, time.Now())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printInfo(stdout, &rep)
	return nil
}

// streamInfo reads the stream and the ledger.
func streamInfo(ctx context.Context, js jetstream.JetStream, so events.StreamOptions) (infoReport, error) {
	rep := infoReport{Kinds: map[string]*kindReport{}}
	name := so.Config().Name
	st, err := js.Stream(ctx, name)
	if err != nil {
		return rep, fmt.Errorf("stream %s: %w", name, err)
	}
	info := st.CachedInfo()
	rep.Stream = streamReport{Name: name, Created: info.Created.UTC(), FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq,
		Messages: info.State.Msgs, Bytes: info.State.Bytes, Consumers: info.State.Consumers}
	if m := info.Mirror; m != nil || info.Config.Mirror != nil {
		mr := &mirrorReport{ActiveSeconds: -1, OriginDomain: info.Config.Metadata[events.MetaOriginDomain]}
		if t, err := events.MirrorOrigin(info.Config); err == nil {
			mr.OriginCreated = &t
		}
		if m != nil {
			mr.Lag = m.Lag
			if m.Active >= 0 {
				mr.ActiveSeconds = m.Active.Seconds()
			}
			if m.Error != nil {
				mr.Error = m.Error.Error()
			}
		}
		rep.Stream.Mirror = mr
	}
	for _, k := range []string{"token", "batch", "jwt_id", "rule", "unreadable"} {
		rep.Kinds[k] = &kindReport{}
	}
	now := time.Now()
	err = scanAll(ctx, st, false, func(m jetstream.Msg, meta *jetstream.MsgMetadata) {
		ts := meta.Timestamp.UTC()
		if rep.Stream.Oldest == nil || ts.Before(*rep.Stream.Oldest) {
			rep.Stream.Oldest = &ts
		}
		if rep.Stream.Newest == nil || ts.After(*rep.Stream.Newest) {
			rep.Stream.Newest = &ts
		}
		if d, err := time.ParseDuration(m.Headers().Get(jetstream.MsgTTLHeader)); err == nil {
			left := meta.Timestamp.Add(d).Sub(now).Seconds()
			if rep.Stream.TTLMin == nil || left < *rep.Stream.TTLMin {
				rep.Stream.TTLMin = &left
			}
			if rep.Stream.TTLMax == nil || left > *rep.Stream.TTLMax {
				rep.Stream.TTLMax = &left
			}
		}
		k, tokens := "unreadable", int64(0)
		if ev, err := events.Decode(m.Data()); err == nil {
			switch ev.Kind {
			case events.KindToken:
				k, tokens = "token", 1
			case events.KindJTI:
				k, tokens = "jwt_id", 1
			case events.KindTokens:
				k, tokens = "batch", int64(len(ev.Tokens))
			case events.KindRule:
				k = "rule"
			}
		}
		r := rep.Kinds[k]
		r.Messages++
		r.Tokens += tokens
		r.Bytes += int64(len(m.Data()))
	})
	if err != nil {
		return rep, fmt.Errorf("read %s: %w", name, err)
	}
	lst, err := js.Stream(ctx, so.LedgerName())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return rep, nil // a region's mirror has no ledger
	}
	if err != nil {
		return rep, fmt.Errorf("ledger %s: %w", so.LedgerName(), err)
	}
	li := lst.CachedInfo()
	lr := &ledgerReport{Name: so.LedgerName(), Messages: li.State.Msgs, Bytes: li.State.Bytes}
	realms := map[string]struct{}{}
	err = scanAll(ctx, lst, true, func(m jetstream.Msg, _ *jetstream.MsgMetadata) {
		if events.IsLedgerRule(m.Subject()) {
			lr.RuleMarks++
		} else {
			lr.TokenMarks++
		}
		if len(realms) < 1<<16 {
			realms[m.Headers().Get(events.LedgerRealmHeader)] = struct{}{}
		}
	})
	if err != nil {
		return rep, fmt.Errorf("read %s: %w", so.LedgerName(), err)
	}
	lr.Realms = len(realms)
	rep.Ledger = lr
	return rep, nil
}

// scanAll hands every message of st to fn, up to the last when it gets
// there (headers only when asked).
func scanAll(ctx context.Context, st jetstream.Stream, headersOnly bool, fn func(jetstream.Msg, *jetstream.MsgMetadata)) error {
	return eventsio.Scan(ctx, st, jetstream.OrderedConsumerConfig{HeadersOnly: headersOnly}, func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		fn(m, meta)
		return nil
	})
}

// sidecarListener collects the sidecars' heartbeats and watermarks.
type sidecarListener struct {
	mu   sync.Mutex
	by   map[string]*sidecarReport
	subs []*nats.Subscription
}

// maxListed bounds the sidecars info tracks (the fronts' --max-sidecars).
const maxListed = 10000

func listenSidecars(nc *nats.Conn) (*sidecarListener, error) {
	l := &sidecarListener{by: map[string]*sidecarReport{}}
	for _, kind := range []string{events.StatusHeartbeat, events.StatusApplied} {
		sub, err := nc.Subscribe("revocast.status.*."+kind, l.on)
		if err != nil {
			l.stop()
			return nil, fmt.Errorf("listen to sidecars: %w", err)
		}
		l.subs = append(l.subs, sub)
	}
	// Every sidecar answers a probe with a heartbeat at once.
	if err := nc.Publish(events.PresenceProbeSubject, nil); err != nil {
		l.stop()
		return nil, fmt.Errorf("probe sidecars: %w", err)
	}
	return l, nil
}

func (l *sidecarListener) stop() {
	for _, s := range l.subs {
		_ = s.Unsubscribe()
	}
}

func (l *sidecarListener) on(m *nats.Msg) {
	id, kind, _, ok := events.ParseStatusSubject(m.Subject)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.by[id]
	if r == nil {
		if len(l.by) >= maxListed {
			return
		}
		r = &sidecarReport{ID: id}
		l.by[id] = r
	}
	r.lastHeard = time.Now()
	switch kind {
	case events.StatusHeartbeat:
		var hb events.Heartbeat
		if json.Unmarshal(m.Data, &hb) != nil {
			return
		}
		r.Instance, r.Ready, r.Stale, r.Healthy, r.Capacity, r.Entries = hb.Instance, hb.Ready, hb.Stale, hb.Healthy, hb.Capacity, hb.Entries
		if hb.AppliedSeq > 0 && (!r.watermarkSeen || hb.AppliedSeq > r.Applied) {
			r.Applied, r.epoch, r.appliedHeard = hb.AppliedSeq, hb.Epoch, true
		}
	case events.StatusApplied:
		w, err := events.DecodeWatermark(m.Data)
		if err != nil {
			return
		}
		if w.Seq >= r.Applied || !r.watermarkSeen {
			r.Applied, r.epoch, r.appliedHeard, r.watermarkSeen = w.Seq, w.Epoch, true, true
		}
	}
}

// report lists the sidecars heard, by id.
func (l *sidecarListener) report(lastSeq uint64, epoch int64, now time.Time) []sidecarReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]sidecarReport, 0, len(l.by))
	for _, r := range l.by {
		c := *r
		c.HeardSecsAgo = now.Sub(r.lastHeard).Seconds()
		c.HeardApplied = r.appliedHeard
		switch {
		case !r.appliedHeard:
		case r.epoch != 0 && r.epoch != epoch:
			c.OtherStream = true
		default:
			lag := int64(lastSeq) - int64(r.Applied)
			c.Lag = &lag
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
