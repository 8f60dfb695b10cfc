package publisher

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
)

// Defaults of Config.
const (
	DefaultMaxTokenLifetime   = 24 * time.Hour
	DefaultPropagationTimeout = time.Second
	// ExpiryLeeway is added to a JWT's exp before its revocation is dropped,
	// so a resource server whose clock lags still finds it.
	ExpiryLeeway = time.Minute
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
	return &Core{cfg: cfg, store: store, tracker: tracker, log: log, metrics: metrics}
}

// Origin returns this front's instance identifier.
func (c *Core) Origin() string { return c.cfg.Origin }

// PropagationTimeout returns the configured wait for confirmations.
func (c *Core) PropagationTimeout() time.Duration { return c.cfg.PropagationTimeout }

// target is one token a request revokes.
type target struct {
	sum       events.Sum
	tokenType string
	expiresAt time.Time
	realm     string
	user      string
	client    string
	alias     bool // another spelling of the request's token: revoked, not counted
}

// plan returns the tokens and rules a request revokes.
func (c *Core) plan(req *Request, now time.Time) ([]target, []events.Rule) {
	if req.Token == nil {
		r := events.Rule{Realm: req.Realm, User: req.User}
		switch {
		case req.Realm != "" && req.User != "":
			r.Scope = events.ScopeRealmUser
		case req.Realm != "":
			r.Scope = events.ScopeRealm
		default:
			r.Scope = events.ScopeUser
		}
		return nil, []events.Rule{r}
	}
	tok := req.Token
	t := target{sum: tok.Sum, tokenType: req.TokenType, realm: c.tokenRealm(req), client: req.Client,
		expiresAt: now.Add(c.cfg.MaxTokenLifetime)}
	var rules []events.Rule
	if tok.JWT {
		if !tok.Claims.Expiry.IsZero() {
			t.expiresAt = tok.Claims.Expiry.Add(ExpiryLeeway)
		}
		t.user = tok.Claims.Subject
		if t.client == "" {
			t.client = tok.Claims.Client
		}
		if req.Chaining == ChainRelatedConsent && t.realm != "" && tok.Claims.Subject != "" && tok.Claims.Client != "" {
			rules = append(rules, events.Rule{Scope: events.ScopeConsent, Realm: t.realm,
				User: tok.Claims.Subject, Client: tok.Claims.Client})
		}
	}
	targets := []target{t}
	for _, a := range req.Aliases {
		if a.Sum != t.sum {
			alias := t
			alias.sum, alias.alias = a.Sum, true
			targets = append(targets, alias)
		}
	}
	return targets, rules
}

// tokenRealm is the realm a token belongs to: the realm its JWT issuer is
// configured for, else the realm the request names (OAM's identity domain),
// else an unmapped JWT issuer (its own realm), else unknown ("").
func (c *Core) tokenRealm(req *Request) string {
	var iss string
	if req.Token.JWT {
		iss = req.Token.Claims.Issuer
		if r, ok := c.cfg.IssuerRealms[iss]; ok && iss != "" {
			return r
		}
	}
	if req.Realm != "" {
		return req.Realm
	}
	return iss
}

// authorize checks that the principal may use the request's format and act
// in every realm the request reaches: each token's realm (an unknown realm
// needs every realm), each rule's realm (a user in every realm needs every
// realm), and the realm the request names.
func (c *Core) authorize(req *Request, targets []target, rules []events.Rule) error {
	p := req.Principal
	if p == nil {
		return &ForbiddenError{Op: req.Op}
	}
	if !p.Can(req.Op) {
		return &ForbiddenError{Principal: p, Op: req.Op}
	}
	need := func(realm string) error {
		if p.InRealm(realm) {
			return nil
		}
		return &ForbiddenError{Principal: p, Realm: realm, AllRealms: realm == ""}
	}
	if req.Realm != "" {
		if err := need(req.Realm); err != nil {
			return err
		}
	}
	for _, t := range targets {
		if err := need(t.realm); err != nil {
			return err
		}
	}
	for _, r := range rules {
		if err := need(r.Realm); err != nil { // ScopeUser has no realm: it needs every realm
			return err
		}
	}
	return nil
}

// Revoke stores the revocations req asks for, waits for the live sidecars'
// confirmations, and returns the counts and failures. It returns an error
// wrapping ErrUnavailable when nothing could be stored (or a rule could not
// be): then nothing is counted and the dialect answers 503.
func (c *Core) Revoke(ctx context.Context, req Request) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	start := c.cfg.Now()
	res := Result{RequestID: nuid.Next()}
	targets, rules := c.plan(&req, start)
	if err := c.authorize(&req, targets, rules); err != nil {
		return Result{}, err
	}
	entries := make([]Entry, 0, len(targets)+len(rules))
	for _, t := range targets {
		ev := events.NewTokenRevocation(t.sum, t.tokenType, t.expiresAt, start)
		ev.Realm, ev.User, ev.Client = t.realm, t.user, t.client
		entries = append(entries, c.entry(ev, res.RequestID, t.sum.String(), true))
	}
	for _, r := range rules {
		ev := events.NewRule(r, start, c.cfg.MaxTokenLifetime)
		entries = append(entries, c.entry(ev, res.RequestID, r.Key(), false))
	}
	if err := validateAll(entries); err != nil {
		return Result{}, err
	}

	var wait *Wait
	if c.tracker != nil {
		wait = c.tracker.Begin(res.RequestID)
	}
	outcomes := c.store.Append(ctx, entries)

	stored, storedRules, failed := 0, 0, 0
	var firstErr error
	for i, o := range outcomes {
		isRule := entries[i].Event.Kind == events.KindRule
		counted := !isRule && !(i < len(targets) && targets[i].alias)
		switch o.Status {
		case Stored:
			stored++
			if isRule {
				storedRules++
			} else if counted {
				res.Invalidated++
			}
		case AlreadyPresent:
			if counted {
				res.PreviouslyInvalidated++
			}
		case Failed:
			failed++
			if firstErr == nil {
				firstErr = o.Err
			}
			if isRule {
				// A rule is the whole point of a scope request: fail it.
				res.Details = append(res.Details, Detail{Kind: DetailStore, Rule: entries[i].Event.Rule().String(), Err: o.Err})
			} else {
				res.Details = append(res.Details, Detail{Kind: DetailStore, Token: entries[i].Event.Token, Err: o.Err})
			}
		}
	}
	c.count(storedRules, res)
	ruleFailed := storedRules < len(rules)
	if failed > 0 && (ruleFailed || stored+res.PreviouslyInvalidated == 0) {
		// Whatever was stored stays stored (and will be enforced), but the
		// request as a whole failed: the answer must not claim success.
		if wait != nil {
			wait.Finish(0, 0)
		}
		c.log.Error().Err(firstErr).Str("request_id", res.RequestID).Str("op", string(req.Op)).
			Int("stored", stored).Int("failed", failed).Msg("revocation not stored")
		return Result{RequestID: res.RequestID}, fmt.Errorf("%w: %d of %d revocations not stored: %w", ErrUnavailable, failed, len(entries), firstErr)
	}
	if wait != nil {
		details := wait.Finish(stored, c.cfg.PropagationTimeout)
		c.countPropagation(details)
		res.Details = append(res.Details, details...)
	}
	c.log.Info().Str("request_id", res.RequestID).Str("op", string(req.Op)).Stringer("principal", req.Principal).
		Int("invalidated", res.Invalidated).Int("previously_invalidated", res.PreviouslyInvalidated).
		Int("rules", storedRules).Int("errors", len(res.Details)).Dur("took", c.cfg.Now().Sub(start)).Msg("revoked")
	return res, nil
}

func (c *Core) entry(ev events.Event, requestID, key string, onlyIfAbsent bool) Entry {
	ev.RequestID, ev.Origin = requestID, c.cfg.Origin
	return Entry{Event: ev, MsgID: requestID + "." + key, OnlyIfAbsent: onlyIfAbsent}
}

func validateAll(entries []Entry) error {
	for i := range entries {
		if err := entries[i].Event.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
	}
	return nil
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
