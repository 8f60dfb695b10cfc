package publisher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// RuleMarks tells when the last rule of a scope was stored: the time of its
// ledger mark (events.LedgerRuleSubject), which is never before that rule's
// issued-before time. With it (Config.RuleMarks) a request may date its
// rules back (Request.IssuedBefore) safely; without it they are dated now.
type RuleMarks interface {
	// LastRuleMark returns when the mark of the rule with key ruleKey was
	// last written; found is false when the scope has no live mark.
	LastRuleMark(ctx context.Context, ruleKey string) (at time.Time, found bool, err error)
}

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
		if t.IsZero() || !t.Before(now) || c.cfg.RuleMarks == nil {
			continue
		}
		at, found, err := c.cfg.RuleMarks.LastRuleMark(ctx, r.Key())
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

// LedgerReader reads rule marks from the ledger stream; the front's NATS
// identity may read ledger messages.
type LedgerReader struct {
	js     jetstream.JetStream
	ledger string

	mu sync.Mutex
	st jetstream.Stream // a handle costs a stream info request: kept
}

var _ RuleMarks = (*LedgerReader)(nil)

// NewLedgerReader reads the ledger stream named ledger.
func NewLedgerReader(js jetstream.JetStream, ledger string) *LedgerReader {
	return &LedgerReader{js: js, ledger: ledger}
}

func (l *LedgerReader) stream(ctx context.Context) (jetstream.Stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st == nil {
		st, err := l.js.Stream(ctx, l.ledger)
		if err != nil {
			return nil, fmt.Errorf("ledger stream %s: %w", l.ledger, err)
		}
		l.st = st
	}
	return l.st, nil
}

// LastRuleMark implements RuleMarks.
func (l *LedgerReader) LastRuleMark(ctx context.Context, ruleKey string) (time.Time, bool, error) {
	st, err := l.stream(ctx)
	if err != nil {
		return time.Time{}, false, err
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
