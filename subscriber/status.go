package subscriber

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/revocast/revocast/events"
)

// Status is the sidecar's state, as /readyz and /healthz report it.
type Status struct {
	ID           string   `json:"id"`
	Ready        bool     `json:"ready"`
	Stale        bool     `json:"stale"`
	Healthy      bool     `json:"healthy"`
	AppliedSeq   uint64   `json:"applied_seq"`
	TargetSeq    uint64   `json:"target_seq"`
	Entries      int64    `json:"cache_entries"`
	Capacity     int64    `json:"cache_capacity"`
	Rules        int      `json:"rules"`
	Policy       string   `json:"stale_policy"`
	LastCaughtUp string   `json:"last_caught_up,omitempty"`
	Problems     []string `json:"problems,omitempty"`
}

// stale reports whether the sidecar has not confirmed it is caught up within MaxStaleness.
func (s *Subscriber) stale() bool { return s.fresh.stale() }

// healthy reports whether every revocation received is enforced exactly.
func (s *Subscriber) healthy() bool {
	return s.failedN.Load() == 0 && s.undecodable.Load() == 0 && s.lost.Load() == 0 && s.cache.Health() == nil
}

// Status returns the current state.
func (s *Subscriber) Status() Status {
	st := Status{ID: s.cfg.ID, Ready: s.ready.Load(), Stale: s.stale(), Healthy: s.healthy(),
		AppliedSeq: s.applied.Load(), TargetSeq: s.target.Load(), Entries: s.cache.Stats().Entries, Capacity: s.cache.Capacity(),
		Rules: s.rules.Len(), Policy: string(s.cfg.StalePolicy)}
	if at := s.confirmedAt.Load(); at != 0 {
		st.LastCaughtUp = time.Unix(0, at).UTC().Format(time.RFC3339Nano)
	}
	if !st.Ready {
		st.Problems = append(st.Problems, fmt.Sprintf("replaying the revocation stream: applied %d of %d", st.AppliedSeq, st.TargetSeq))
	} else if st.Stale {
		st.Problems = append(st.Problems, fmt.Sprintf("stale: not confirmed caught up for more than %s", s.cfg.MaxStaleness))
	}
	if p := s.streamProblem.Load(); p != nil {
		st.Problems = append(st.Problems, *p)
	}
	st.Problems = append(st.Problems, s.mirrorProblems(time.Now())...)
	if err := s.cache.Health(); err != nil {
		st.Problems = append(st.Problems, err.Error())
	}
	if n := s.failedN.Load(); n > 0 {
		st.Problems = append(st.Problems, fmt.Sprintf("%d revocations refused by the deny-cache, retrying (denied meanwhile from a side list)", n))
	}
	if n := s.lost.Load(); n > 0 {
		st.Problems = append(st.Problems, fmt.Sprintf("%d revocations did not fit in the deny-cache (capacity %d): every check is denied until a rebuild fits them; raise --cache-capacity", n, st.Capacity))
	}
	if n := s.undecodable.Load(); n > 0 {
		st.Problems = append(st.Problems, fmt.Sprintf("%d revocation events could not be read (written by a newer revocast?)", n))
	}
	return st
}

// heartbeat announces presence now.
func (s *Subscriber) heartbeat() {
	b, _ := json.Marshal(events.Heartbeat{Instance: s.instance, Ready: s.ready.Load(),
		Stale: s.stale(), Healthy: s.healthy(), SentAt: time.Now().UTC(),
		Capacity: s.cache.Capacity(), Entries: s.cache.Stats().Entries + s.failedN.Load(),
		AppliedSeq: s.reported.Load(), Epoch: s.watermarkEpoch()})
	_ = s.nc.Publish(events.HeartbeatSubject(s.cfg.ID), b)
}

// heartbeats announces presence every HeartbeatInterval until ctx is done.
func (s *Subscriber) heartbeats(ctx context.Context) {
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	s.heartbeat()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.heartbeat()
		}
	}
}
