package publisher

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
)

// Defaults of Config.
const (
	DefaultMaxTokenLifetime   = events.DefaultMaxTokenLifetime
	DefaultPropagationTimeout = time.Second
	ExpiryLeeway              = events.ExpiryLeeway
)

// Config configures a Core.
type Config struct {
	// Origin identifies this front instance on the outcome subject; a
	// generated identifier when empty.
	Origin string
	// MaxTokenLifetime bounds revocations of tokens whose expiry is unknown
	// and the life of issued-before rules. It must be at least the longest
	// lifetime any issuer gives a token.
	MaxTokenLifetime time.Duration
	// PropagationTimeout is how long a request waits for the live sidecars'
	// confirmations; 0 does not wait.
	PropagationTimeout time.Duration
	// IssuerRealms maps a JWT's iss to the realm it belongs to (the
	// configuration's realms); an unmapped issuer is its own realm.
	IssuerRealms map[string]string
	// Registry knows issued tokens (nil: none); Mode says what an unknown
	// token means (Advisory when empty).
	Registry Registry
	Mode     RegistryMode
	// Budget refuses requests over a realm's quota or a live sidecar's
	// capacity (nil: no limit).
	Budget *Budget
	// Stream and Ledger name the revocation and ledger streams (the
	// defaults of events.StreamOptions when empty).
	Stream string
	Ledger string
	// RuleMarks reads when each scope's last rule was stored, so requests
	// may date rules back (Request.IssuedBefore); nil: rules are dated now.
	RuleMarks RuleMarks
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Core turns canonical requests into stored events and counted results.
type Core struct {
	cfg     Config
	store   Store
	tracker *Tracker
	log     zerolog.Logger
	metrics *Metrics
}

// NewCore returns a Core on store. tracker and metrics may be nil (no
// propagation waiting, no metrics).
func NewCore(cfg Config, store Store, tracker *Tracker, log zerolog.Logger, metrics *Metrics) *Core {
	if cfg.MaxTokenLifetime == 0 {
		cfg.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Origin == "" {
		cfg.Origin = nuid.Next()
	}
	if cfg.Stream == "" {
		cfg.Stream = events.DefaultStreamName
	}
	if cfg.Ledger == "" {
		cfg.Ledger = events.StreamOptions{Name: cfg.Stream}.LedgerName()
	}
	return &Core{cfg: cfg, store: store, tracker: tracker, log: log, metrics: metrics}
}

// Revoke stores the revocations req asks for, waits for the live sidecars'
// confirmations, and returns the counts and failures. It returns an error
// wrapping ErrUnavailable when nothing could be stored: then nothing is
// counted and the dialect answers 503.
//
// Events are stored first (a single token as a token event, several as
// batches), then each counted token's ledger mark, written only if absent:
// the ledger decides "invalidated" or "previously invalidated" exactly, and
// a token is never counted unless its event is stored.
func (c *Core) Revoke(ctx context.Context, req Request) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	if err := preauthorize(&req); err != nil {
		return Result{}, err
	}
	start := c.cfg.Now()
	res := Result{RequestID: nuid.Next()}
	targets, rules, notFound, err := c.plan(ctx, &req, start)
	planned := c.cfg.Now()
	if err != nil {
		return Result{}, err
	}
	if err := authorize(&req, targets, rules); err != nil {
		return Result{}, err
	}
	if notFound {
		return Result{RequestID: res.RequestID, NotFound: true}, nil
	}
	msgIDs := res.RequestID
	if req.IdempotencyKey != "" {
		msgIDs = req.IdempotencyKey
	}
	evs, err := c.eventEntries(res.RequestID, msgIDs, targets, rules, c.ruleTimes(ctx, &req, rules, start), start)
	if err != nil {
		return Result{}, err
	}
	resv, err := c.cfg.Budget.Reserve(asks(targets, rules))
	if err != nil {
		return Result{}, err
	}
	var ledgerSeq uint64
	defer func() { c.cfg.Budget.Release(resv, ledgerSeq) }()

	var wait *Wait
	if c.tracker != nil {
		wait = c.tracker.Begin(res.RequestID)
	}
	stored := c.store.Append(ctx, evs.entries)
	if wait != nil {
		wait.Stored(c.cfg.PropagationTimeout) // which stream they are in, read while the ledger is written
	}
	tokensStored, rulesStored := 0, 0
	var lastSeq uint64 // the request's last event in the stream: what sidecars must reach
	var firstErr error
	eventOK := make([]bool, len(targets))
	for k, o := range stored {
		lastSeq = max(lastSeq, o.Seq)
		if o.Status == Failed {
			if firstErr == nil {
				firstErr = o.Err
			}
			res.Details = append(res.Details, evs.failure(k, o.Err)...)
			continue
		}
		for _, ti := range evs.targets[k] {
			eventOK[ti] = true
			tokensStored++
		}
		if evs.rule[k] {
			rulesStored++
		}
	}
	ledgerSeq = c.countLedger(ctx, &res, msgIDs, targets, eventOK, evs, stored)
	ledgered := c.cfg.Now()
	c.count(rulesStored, res)
	if tokensStored+rulesStored == 0 && firstErr != nil {
		if wait != nil {
			wait.Finish(0, 0)
		}
		c.log.Error().Err(firstErr).Str("request_id", res.RequestID).Str("op", string(req.Op)).Msg("revocation not stored")
		return Result{RequestID: res.RequestID}, fmt.Errorf("%w: nothing could be stored: %w", ErrUnavailable, firstErr)
	}
	if wait != nil {
		details := wait.Finish(lastSeq, c.cfg.PropagationTimeout)
		c.countPropagation(details)
		res.Details = append(res.Details, details...)
	}
	end := c.cfg.Now()
	c.log.Info().Str("request_id", res.RequestID).Str("op", string(req.Op)).Stringer("principal", req.Principal).
		Int("invalidated", res.Invalidated).Int("previously_invalidated", res.PreviouslyInvalidated).
		Int("tokens", tokensStored).Int("rules", rulesStored).Int("errors", len(res.Details)).
		Dur("plan_ms", planned.Sub(start)).Dur("store_ms", ledgered.Sub(planned)).Dur("confirm_ms", end.Sub(ledgered)).
		Dur("took_ms", end.Sub(start)).Msg("revoked")
	return res, nil
}

// countLedger writes the ledger mark of every token whose event is stored
// (counting the answers for all but aliases) and of every stored rule, and
// returns the last sequence it wrote: the budget counts the marks.
func (c *Core) countLedger(ctx context.Context, res *Result, msgIDs string, targets []target, eventOK []bool, evs *eventSet, stored []Outcome) uint64 {
	var marks []Entry
	idx := []int{} // the target of each mark; -1 for a rule
	for i, t := range targets {
		if eventOK[i] {
			marks = append(marks, LedgerEntry(t.sum, t.realm, t.expiresAt, c.cfg.Ledger, msgIDs+"."+t.sum.String()))
			idx = append(idx, i)
		}
	}
	for k, o := range stored {
		if evs.rule[k] && o.Status != Failed {
			r := evs.rules[k]
			marks = append(marks, LedgerRuleEntry(r.rule, r.expiresAt, c.cfg.Ledger, msgIDs+".rule."+r.rule.Key()))
			idx = append(idx, -1)
		}
	}
	var last uint64
	for k, o := range c.store.Append(ctx, marks) {
		last = max(last, o.Seq)
		if idx[k] < 0 || targets[idx[k]].alias {
			continue
		}
		switch o.Status {
		case Stored:
			res.Invalidated++
		case AlreadyPresent:
			res.PreviouslyInvalidated++
		default:
			res.Details = append(res.Details, Detail{Kind: DetailUncounted, Token: targets[idx[k]].sum,
				Err: fmt.Errorf("the revocation is stored and enforced, but whether it was already revoked could not be recorded: %w", o.Err)})
		}
	}
	return last
}

// asks is what a request adds to each realm's live revocations.
func asks(targets []target, rules []events.Rule) []Ask {
	by := map[string]*Ask{}
	get := func(realm string) *Ask {
		if by[realm] == nil {
			by[realm] = &Ask{Realm: realm}
		}
		return by[realm]
	}
	for _, t := range targets {
		get(t.realm).Tokens++
	}
	for _, r := range rules {
		get(r.Realm).Rules++
	}
	out := make([]Ask, 0, len(by))
	for _, a := range by {
		out = append(out, *a)
	}
	return out
}

// eventSet is a request's events and which targets each carries.
type eventSet struct {
	entries []Entry
	targets [][]int // indexes into the request's targets, per entry
	rule    []bool
	names   []string // rule names, for failures
	sums    [][]events.Sum
	rules   []plannedRule // per entry; meaningful where rule is set
}

type plannedRule struct {
	rule      events.Rule
	expiresAt time.Time
}

func (e *eventSet) failure(k int, err error) []Detail {
	if e.rule[k] {
		return []Detail{{Kind: DetailStore, Rule: e.names[k], Err: err}}
	}
	out := make([]Detail, 0, len(e.sums[k]))
	for _, s := range e.sums[k] {
		out = append(out, Detail{Kind: DetailStore, Token: s, Err: err})
	}
	return out
}

// eventEntries makes the request's events: a token event when one token is
// revoked (plus aliases), batches of up to events.MaxBatch otherwise, and
// one event per rule, issued before ruleTimes[i]. Their message ids start
// with msgIDs.
func (c *Core) eventEntries(requestID, msgIDs string, targets []target, rules []events.Rule, ruleTimes []time.Time,
	now time.Time) (*eventSet, error) {
	set := &eventSet{}
	add := func(ev events.Event, key string, tis []int, rule bool, name string) error {
		set.rules = append(set.rules, plannedRule{rule: ev.Rule(), expiresAt: ev.ExpiresAt})
		ev.RequestID, ev.Origin = requestID, c.cfg.Origin
		e, err := EventEntry(ev, c.cfg.Stream, msgIDs+"."+key)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		sums := make([]events.Sum, len(tis))
		for i, ti := range tis {
			sums[i] = targets[ti].sum
		}
		set.entries, set.targets, set.rule, set.names, set.sums = append(set.entries, e), append(set.targets, tis), append(set.rule, rule), append(set.names, name), append(set.sums, sums)
		return nil
	}
	counted := 0
	for _, t := range targets {
		if !t.alias {
			counted++
		}
	}
	if counted <= 1 {
		for i, t := range targets {
			ev := events.NewTokenRevocation(t.sum, t.tokenType, t.expiresAt, now)
			if t.jti {
				ev = events.NewJTIRevocation(t.sum, t.expiresAt, now)
			}
			ev.Realm, ev.User, ev.Client = t.realm, t.user, t.client
			if err := add(ev, t.sum.String(), []int{i}, false, ""); err != nil {
				return nil, err
			}
		}
	} else {
		for b, from := 0, 0; from < len(targets); b, from = b+1, from+events.MaxBatch {
			to := min(from+events.MaxBatch, len(targets))
			items := make([]events.TokenItem, 0, to-from)
			tis := make([]int, 0, to-from)
			for i := from; i < to; i++ {
				t := targets[i]
				items = append(items, events.TokenItem{Token: t.sum, TokenType: t.tokenType, ExpiresAt: t.expiresAt.UTC(), JTI: t.jti})
				tis = append(tis, i)
			}
			if err := add(events.NewTokenBatch(requestID, b, items, now), "batch."+strconv.Itoa(b), tis, false, ""); err != nil {
				return nil, err
			}
		}
	}
	for i, r := range rules {
		if err := add(events.NewRuleAt(r, ruleTimes[i], now, c.cfg.MaxTokenLifetime), r.Key(), nil, true, r.String()); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func (c *Core) count(rules int, res Result) {
	if c.metrics == nil {
		return
	}
	c.metrics.Published.WithLabelValues("token").Add(float64(res.Invalidated))
	c.metrics.Published.WithLabelValues("rule").Add(float64(rules))
	c.metrics.Previously.Add(float64(res.PreviouslyInvalidated))
}

func (c *Core) countPropagation(details []Detail) {
	if c.metrics == nil {
		return
	}
	for _, d := range details {
		c.metrics.Propagation.WithLabelValues(string(d.Kind)).Inc()
	}
}
