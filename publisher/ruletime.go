package publisher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// RuleMarks tells when the last rule of a scope was stored: the time of its
// ledger mark (events.LedgerRuleSubject), which is never before that rule's
// issued-before time. A Store that implements it lets a request date its
// rules back (Request.IssuedBefore) safely; without it they are dated now.
type RuleMarks interface {
	// LastRuleMark returns when the mark of the rule with key ruleKey was
	// last written to the ledger stream ledger; found is false when the
	// scope has no live mark.
	LastRuleMark(ctx context.Context, ledger, ruleKey string) (at time.Time, found bool, err error)
}

var _ RuleMarks = (*JetStreamStore)(nil)

// ruleTimes returns the issued-before time of each of the request's rules.
//
// A rule dated back (a signal's event time) must never replace a newer rule
// of its scope: the stream keeps only the latest message of a subject, so a
// sidecar replaying it would then honour only the older time, and tokens
// the newer rule revoked would work again after a restart. So a rule is
// dated no earlier than the last mark of its scope, and when that cannot be
// read, now (revoking more, never less).
func (c *Core) ruleTimes(ctx context.Context, req *Request, rules []events.Rule, now time.Time) []time.Time {
	out := make([]time.Time, len(rules))
	for i, r := range rules {
		out[i] = now
		t := req.IssuedBefore
		if t.IsZero() || !t.Before(now) {
			continue
		}
		rm, ok := c.store.(RuleMarks)
		if !ok {
			continue
		}
		at, found, err := rm.LastRuleMark(ctx, c.cfg.Ledger, r.Key())
		switch {
		case err != nil:
			c.log.Warn().Err(err).Str("rule", r.String()).Msg("cannot read the scope's last rule: dating the rule now")
		case found && at.After(t):
			out[i] = minTime(at, now)
		default:
			out[i] = t
		}
	}
	return out
}

// LastRuleMark implements RuleMarks.
func (s *JetStreamStore) LastRuleMark(ctx context.Context, ledger, ruleKey string) (time.Time, bool, error) {
	st, err := s.js.Stream(ctx, ledger)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ledger stream %s: %w", ledger, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, events.LedgerRuleSubject(ruleKey))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("last rule mark: %w", err)
	}
	return m.Time, true, nil
}
