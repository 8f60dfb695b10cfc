package subscriber

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// A sidecar in a region far from the fronts reads that region's mirror of
// the revocation stream (events.MirrorConfig: same name, in the leaf node's
// JetStream domain), which keeps the origin's sequences. Two things differ
// from reading the stream itself:
//
//   - Caught up means caught up with the origin, not with the local copy:
//     cut off from its origin, the mirror has nothing pending and the
//     consumer says so, while revocations pile up in the other region. The
//     sidecar counts itself caught up only as of the last time the mirror
//     heard from its origin (its source's Active time) with nothing left to
//     copy, so it turns stale, and under --stale-policy deny answers 503,
//     --max-staleness after the link went down (or its origin was re-created:
//     a mirror does not notice, it just hears nothing more).
//   - Watermarks carry the origin's creation time, which the mirror's
//     creator recorded in its metadata (events.MetaOriginCreated), as their
//     epoch: the fronts know only the origin, and would otherwise take this
//     sidecar for one following another stream and never count its
//     confirmations.

// upstream is what the sidecar last learned of the mirror it reads.
type upstream struct {
	heardAt     int64 // Unix ns when the mirror last heard from its origin; 0 never
	lag         uint64
	err         string
	originEpoch int64 // the recorded origin creation (Unix ns); 0 unknown
}

// noteStream records, from the stream's info, whether it is a mirror and
// how current it is.
func (s *Subscriber) noteStream(info *jetstream.StreamInfo) {
	if info == nil || info.Config.Mirror == nil {
		s.up.Store(nil)
		return
	}
	u := &upstream{}
	if m := info.Mirror; m != nil {
		if m.Active >= 0 {
			u.heardAt = time.Now().Add(-m.Active).UnixNano()
		}
		u.lag = m.Lag
		if m.Error != nil {
			u.err = m.Error.Error()
		}
	}
	if t, err := events.MirrorOrigin(info.Config); err == nil {
		u.originEpoch = t.UnixNano()
	} else if prev := s.up.Load(); prev == nil {
		s.log.Warn().Err(err).Str("stream", info.Config.Name).
			Msg("reading a mirror that does not record its origin: the fronts will not count this sidecar's confirmations; create it with revocast init --mirror-from")
	}
	s.up.Store(u)
}

// currentAt is the moment (Unix ns) as of which everything stored is known
// here when nothing is left to apply: now for the stream itself; for a
// mirror, when it last heard from its origin with nothing left to copy
// (0: not since it was read).
func (s *Subscriber) currentAt(now time.Time) int64 {
	u := s.up.Load()
	switch {
	case u == nil:
		return now.UnixNano()
	case u.lag > 0 || u.err != "":
		return 0
	}
	return u.heardAt
}

// confirmAt moves the last confirmation of being caught up to at, never back.
func (s *Subscriber) confirmAt(at int64) {
	for {
		cur := s.confirmedAt.Load()
		if at <= cur {
			s.fresh.update() // the same time, now older: still within MaxStaleness?
			return
		}
		if s.confirmedAt.CompareAndSwap(cur, at) {
			s.fresh.update()
			return
		}
	}
}

// watermarkEpoch is the epoch the sidecar's watermarks carry: the creation
// of the stream the fronts write, which a mirror records.
func (s *Subscriber) watermarkEpoch() int64 {
	if u := s.up.Load(); u != nil && u.originEpoch != 0 {
		return u.originEpoch
	}
	return s.epoch.Load()
}

// mirrorProblems says why a mirror is not current, for /readyz.
func (s *Subscriber) mirrorProblems(now time.Time) []string {
	u := s.up.Load()
	switch {
	case u == nil:
		return nil
	case u.err != "":
		return []string{fmt.Sprintf("the local mirror of %s cannot copy from its origin: %s", s.cfg.Stream, u.err)}
	case u.heardAt == 0:
		return []string{fmt.Sprintf("the local mirror of %s has not heard from its origin", s.cfg.Stream)}
	case u.lag > 0:
		return []string{fmt.Sprintf("the local mirror of %s is %d messages behind its origin", s.cfg.Stream, u.lag)}
	case now.Sub(time.Unix(0, u.heardAt)) > mirrorSilence:
		return []string{fmt.Sprintf("the local mirror of %s last heard from its origin %s ago (the link to the fronts' region is down?)",
			s.cfg.Stream, now.Sub(time.Unix(0, u.heardAt)).Round(time.Second))}
	}
	return nil
}

// mirrorSilence: a mirror hears from its origin every second (the source's
// heartbeats); three missed, and /readyz names it.
const mirrorSilence = 3 * time.Second
