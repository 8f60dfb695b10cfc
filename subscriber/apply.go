package subscriber

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
)

// flushDelay bounds how long a received event waits for its batch to fill.
const flushDelay = 2 * time.Millisecond

// maxBatchTokens bounds the tokens applied at once, whatever the number of
// events (a replay of batch events carries 500 in each): the cache admits
// them in one pass, and a pass over a few thousand stays in the CPU's caches.
const maxBatchTokens = 4096

// maxFailuresPerOutcome keeps outcome messages well under NATS's payload limit.
const maxFailuresPerOutcome = 500

// outcomeWindow: events revoked this recently are live: their outcome goes
// to their front and they count in the revoke-to-applied lag histogram.
// Older ones are history being replayed.
const outcomeWindow = 30 * time.Second

// onMsg collects a delivered event into the current batch. The batch is
// applied when it is full, when it holds the last message the server had
// (nothing pending), or after flushDelay.
func (s *Subscriber) onMsg(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil { // cannot happen on a JetStream consumer; never dropped silently all the same
		s.undecodable.Add(1)
		s.m.undecodable.Inc()
		s.log.Error().Err(err).Msg("a delivered message without JetStream metadata: unhealthy")
		return
	}
	ev, derr := events.Decode(msg.Data())
	s.batchMu.Lock()
	defer s.batchMu.Unlock()
	it := item{seq: meta.Sequence.Stream, pending: meta.NumPending, ev: ev, err: derr}
	if derr != nil {
		it.subject = msg.Subject()
	}
	s.batch = append(s.batch, it)
	s.ap.batchTokens += len(ev.Tokens) + 1
	switch {
	case len(s.batch) >= s.cfg.BatchSize || s.ap.batchTokens >= maxBatchTokens || meta.NumPending == 0:
		s.flushLocked()
	case s.flushTimer == nil:
		s.flushTimer = time.AfterFunc(flushDelay, s.flush)
	}
}

func (s *Subscriber) flush() {
	s.batchMu.Lock()
	defer s.batchMu.Unlock()
	s.flushLocked()
}

// flushLocked applies the batch: token revocations to the cache (verified,
// retried; refusals kept aside and reported), rules to the rule set; then
// advances the applied sequence and reports outcomes of live requests.
func (s *Subscriber) flushLocked() {
	if s.flushTimer != nil {
		s.flushTimer.Stop()
		s.flushTimer = nil
	}
	items := s.batch
	if len(items) == 0 {
		return
	}
	s.ap.batchTokens = 0
	entries := s.ap.entries[:0]
	for i := range items {
		it := &items[i]
		if it.err != nil {
			s.undecodable.Add(1)
			s.m.undecodable.Inc()
			s.log.Error().Err(it.err).Str("subject", it.subject).Uint64("seq", it.seq).
				Msg("revocation event could not be read: failing closed until a revocast that reads it replays the stream")
			continue
		}
		s.clamp(&it.ev, it.seq)
		legacy := it.ev.Version <= events.LegacyKeyVersion
		switch it.ev.Kind {
		case events.KindToken:
			entries = append(entries, cache.Entry{Sum: it.ev.Token, ExpiresAt: it.ev.ExpiresAt})
			if legacy {
				raiseTo(&s.legacyUntil, it.ev.ExpiresAt)
			}
		case events.KindJTI:
			entries = append(entries, cache.Entry{Sum: it.ev.Token, ExpiresAt: it.ev.ExpiresAt})
			raiseTo(&s.jtiUntil, it.ev.ExpiresAt)
		case events.KindTokens:
			for _, t := range it.ev.Tokens {
				entries = append(entries, cache.Entry{Sum: t.Token, ExpiresAt: t.ExpiresAt})
				if t.JTI {
					raiseTo(&s.jtiUntil, t.ExpiresAt)
				}
			}
			if legacy {
				raiseTo(&s.legacyUntil, it.ev.ExpiresAt)
			}
		case events.KindRule:
			s.rules.Add(it.ev.Rule(), it.ev.IssuedBefore, it.ev.ExpiresAt)
			s.m.appliedRules.Inc()
		}
	}
	failures := s.cache.Add(context.Background(), entries)
	s.m.appliedTokens.Add(float64(len(entries) - len(failures)))
	s.ap.keep(entries)
	var failedErr map[events.Sum]string
	if len(failures) > 0 {
		s.keepFailed(failures)
		failedErr = make(map[events.Sum]string, len(failures))
		for _, f := range failures {
			failedErr[f.Entry.Sum] = f.Err.Error()
		}
		s.log.Error().Int("count", len(failures)).Err(failures[0].Err).
			Msg("revocations not admitted to the deny-cache: kept aside, retried, and unhealthy until they are")
	}
	last := items[len(items)-1]
	s.applied.Store(last.seq)
	if last.pending == 0 {
		s.caughtUp()
	} else if last.seq >= s.target.Load() {
		s.markReady()
	}
	s.report(items, failedErr)
	clear(items) // what the events held is garbage now; the array is reused
	if cap(items) <= 4*s.cfg.BatchSize {
		s.batch = items[:0]
	} else {
		s.batch = nil
	}
}

// raiseTo raises a Unix-ns watermark to t.
func raiseTo(v *atomic.Int64, t time.Time) {
	n := t.UnixNano()
	for {
		cur := v.Load()
		if n <= cur || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

// clamp bounds what an event can do, whoever wrote it: nothing lives longer
// than --max-token-lifetime plus leeway from now, and no rule reaches tokens
// issued more than a minute in the future. Each clamp is counted and logged.
func (s *Subscriber) clamp(ev *events.Event, seq uint64) {
	now := time.Now()
	limit := now.Add(s.cfg.MaxTokenLifetime + events.ExpiryLeeway + events.MaxClockSkew)
	clamped := false
	if ev.ExpiresAt.After(limit) {
		ev.ExpiresAt, clamped = limit, true
	}
	for i := range ev.Tokens {
		if ev.Tokens[i].ExpiresAt.After(limit) {
			ev.Tokens[i].ExpiresAt, clamped = limit, true
		}
	}
	if ev.Kind == events.KindRule && ev.IssuedBefore.After(now.Add(events.MaxClockSkew)) {
		ev.IssuedBefore, clamped = now.Add(events.MaxClockSkew), true
	}
	if clamped {
		s.m.clamped.Inc()
		s.log.Warn().Uint64("seq", seq).Str("kind", string(ev.Kind)).
			Msg("an event reached further than --max-token-lifetime or into the future: clamped")
	}
}

// keepFailed holds refused revocations so checks still deny them and the
// periodic retry can admit them later. The side list is bounded; what it
// cannot hold is lost, and a sidecar that lost a revocation vouches for
// nothing until a rebuild fits everything (gate).
func (s *Subscriber) keepFailed(failures []cache.Failure) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	limit := s.sideListLimit()
	lost := 0
	for _, f := range failures {
		cur, ok := s.failed[f.Entry.Sum]
		switch {
		case ok && !f.Entry.ExpiresAt.After(cur):
		case ok || len(s.failed) < limit:
			s.failed[f.Entry.Sum] = f.Entry.ExpiresAt
		default:
			lost++
		}
	}
	s.failedN.Store(int64(len(s.failed)))
	if lost > 0 {
		if s.lost.Add(int64(lost)) == int64(lost) {
			s.lostSince.Store(time.Now().UnixNano())
		}
		s.m.lost.Add(float64(lost))
		s.log.Error().Int("count", lost).Int64("capacity", s.cache.Capacity()).
			Msg("revocations dropped: the deny-cache and its side list are full; every check is denied (503) until a rebuild fits them: raise --cache-capacity")
	}
}

// sideListLimit bounds the revocations kept aside from the cache.
func (s *Subscriber) sideListLimit() int {
	return int(max(minSideList, s.cache.Capacity()/64))
}

// minSideList is the smallest side list.
const minSideList = 1024

func (s *Subscriber) lostAt() time.Time { return time.Unix(0, s.lostSince.Load()) }

// rebuildBackoff is how long a sidecar that lost revocations waits before
// replaying from the start: long enough for revocations to expire and
// for the operator to see the alarm, growing while rebuilds keep losing.
func (s *Subscriber) rebuildBackoff() time.Duration {
	return min(30*time.Second<<min(s.lossRebuilds.Load(), 5), 10*time.Minute)
}

// retryFailed offers the refused revocations to the cache again.
func (s *Subscriber) retryFailed(ctx context.Context) {
	if s.failedN.Load() == 0 {
		return
	}
	s.failMu.RLock()
	entries := make([]cache.Entry, 0, len(s.failed))
	now := time.Now()
	for sum, exp := range s.failed {
		if exp.After(now) {
			entries = append(entries, cache.Entry{Sum: sum, ExpiresAt: exp})
		}
	}
	s.failMu.RUnlock()
	still := make(map[events.Sum]time.Time)
	for _, f := range s.cache.Add(ctx, entries) {
		still[f.Entry.Sum] = f.Entry.ExpiresAt
	}
	s.failMu.Lock()
	for sum, exp := range s.failed {
		if _, refused := still[sum]; !refused || !exp.After(now) {
			delete(s.failed, sum)
		}
	}
	s.failedN.Store(int64(len(s.failed)))
	s.failMu.Unlock()
	if len(still) == 0 {
		s.log.Info().Int("count", len(entries)).Msg("refused revocations now admitted to the deny-cache")
	}
}

func (s *Subscriber) inFailed(sum events.Sum) bool {
	if s.failedN.Load() == 0 {
		return false
	}
	s.failMu.RLock()
	exp, ok := s.failed[sum]
	s.failMu.RUnlock()
	return ok && exp.After(time.Now())
}

type reportKey struct{ origin, requestID string }

// report sends each live request's failures (if it has any) to the front
// that published it, then the watermark: every event up to the batch's last
// sequence is applied or reported. Both go out on the same connection, the
// failures first, so a front sees them before the watermark passes them.
func (s *Subscriber) report(items []item, failedErr map[events.Sum]string) {
	now := time.Now()
	var out map[reportKey]*events.FailureReport // made for the first failure
	fail := func(it *item, f events.Failure) {
		if it.ev.RequestID == "" || events.ValidID(it.ev.Origin) != nil || now.Sub(it.ev.RevokedAt) > outcomeWindow {
			return // history being replayed, or nobody to tell
		}
		k := reportKey{it.ev.Origin, it.ev.RequestID}
		if out == nil {
			out = make(map[reportKey]*events.FailureReport)
		}
		if out[k] == nil {
			out[k] = &events.FailureReport{Instance: s.instance, RequestID: it.ev.RequestID}
		}
		out[k].Failures = append(out[k].Failures, f)
	}
	for i := range items {
		it := &items[i]
		switch {
		case it.err != nil:
			fail(it, events.Failure{Token: it.ev.Token, Error: "event could not be read: " + it.err.Error()})
			continue
		case failedErr == nil:
		case it.ev.Kind == events.KindTokens:
			for _, t := range it.ev.Tokens {
				if msg := failedErr[t.Token]; msg != "" {
					fail(it, events.Failure{Token: t.Token, Error: msg})
				}
			}
		case it.ev.Kind == events.KindToken || it.ev.Kind == events.KindJTI:
			if msg := failedErr[it.ev.Token]; msg != "" {
				fail(it, events.Failure{Token: it.ev.Token, Error: msg})
			}
		}
		if age := now.Sub(it.ev.RevokedAt); age < outcomeWindow {
			s.m.lag.Observe(age.Seconds()) // a live revocation, not history
		}
	}
	for k, r := range out {
		for len(r.Failures) > 0 {
			part := *r
			part.Failures = r.Failures[:min(len(r.Failures), maxFailuresPerOutcome)]
			r.Failures = r.Failures[len(part.Failures):]
			b, _ := json.Marshal(part)
			if err := s.nc.Publish(events.FailuresSubject(s.cfg.ID, k.origin), b); err != nil {
				s.log.Warn().Err(err).Str("request_id", k.requestID).Msg("could not send a failure report")
				break
			}
		}
	}
	s.reported.Store(items[len(items)-1].seq)
	s.announce()
}

// publishWatermark announces that everything up to seq is applied or reported.
func (s *Subscriber) publishWatermark(seq uint64) {
	w := events.Watermark{Instance: s.instance, Seq: seq, Epoch: s.watermarkEpoch()}
	_ = s.nc.Publish(events.WatermarkSubject(s.cfg.ID), w.Encode())
}
