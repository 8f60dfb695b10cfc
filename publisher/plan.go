package publisher

import (
	"context"
	"fmt"
	"time"

	"github.com/revocast/revocast/events"
)

// target is one token a request revokes.
type target struct {
	sum       events.Sum
	tokenType string
	expiresAt time.Time
	realm     string
	user      string
	client    string
	alias     bool // another spelling of the request's token: revoked, not counted
	jti       bool // sum is an events.JTIKey
}

func fromRecord(r *Record) target {
	return target{sum: r.Sum, tokenType: r.Type, expiresAt: r.ExpiresAt.Add(ExpiryLeeway), realm: r.Realm, user: r.User,
		client: r.Client, jti: r.JTI}
}

// plan returns the tokens and rules a request revokes, or notFound when an
// authoritative registry does not know the token.
func (c *Core) plan(ctx context.Context, req *Request, now time.Time) ([]target, []events.Rule, bool, error) {
	if req.JWTID != nil {
		return []target{c.jwtIDTarget(req, now)}, nil, false, nil
	}
	if req.Session != "" {
		return nil, []events.Rule{{Scope: events.ScopeSession, Realm: req.Realm, Session: req.Session}}, false, nil
	}
	if req.Token == nil {
		return c.planScope(ctx, req)
	}
	rec, err := c.lookup(ctx, req)
	if err != nil {
		return nil, nil, false, err
	}
	if rec == nil && c.cfg.Registry != nil && c.cfg.Mode == Authoritative {
		return nil, nil, true, nil
	}
	if rec != nil && req.OwnedByClient && rec.Client != req.Client {
		return nil, nil, false, fmt.Errorf("%w: token registered to another client", ErrWrongClient)
	}
	main := c.tokenTarget(req, rec, now)
	if err := need(req.Principal, main.realm); err != nil {
		return nil, nil, false, err // before related tokens are read in its realm
	}
	targets := []target{main}
	for _, a := range req.Aliases {
		if a.Sum != main.sum {
			alias := main
			alias.sum, alias.alias = a.Sum, true
			targets = append(targets, alias)
		}
	}
	related, rules, err := c.related(ctx, req, rec, main)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: token registry: %w", ErrUnavailable, err)
	}
	for i := range related {
		if related[i].Sum != main.sum {
			targets = append(targets, fromRecord(&related[i]))
		}
	}
	return targets, rules, false, nil
}

// lookup returns the registry's record of the request's token, read only in
// the realms the principal may act in (a JWS registered before schema 2
// under its legacy key is found by that key), or nil.
func (c *Core) lookup(ctx context.Context, req *Request) (*Record, error) {
	realms := lookupRealms(req)
	if c.cfg.Registry == nil || (realms != nil && len(realms) == 0) {
		return nil, nil
	}
	for _, sum := range []events.Sum{req.Token.Sum, req.Token.Legacy} {
		if sum.IsZero() {
			continue
		}
		recs, err := c.cfg.Registry.Lookup(ctx, sum, realms)
		if err != nil {
			return nil, fmt.Errorf("%w: token registry: %w", ErrUnavailable, err)
		}
		if rec := pickRecord(recs, req.Client); rec != nil {
			rec.Sum = req.Token.Sum // a legacy record is revoked under the token's key
			return rec, nil
		}
	}
	return nil, nil
}

// pickRecord chooses among a token's records in several realms (all of
// them realms the principal may act in): one issued to the asking client,
// else the first.
func pickRecord(recs []Record, client string) *Record {
	for i := range recs {
		if recs[i].Client == client {
			return &recs[i]
		}
	}
	if len(recs) > 0 {
		return &recs[0]
	}
	return nil
}

// tokenTarget describes the request's token: from the registry when it
// knows it, else from the JWT's claims and the request.
func (c *Core) tokenTarget(req *Request, rec *Record, now time.Time) target {
	if rec != nil {
		t := fromRecord(rec)
		if req.TokenType != "" {
			t.tokenType = req.TokenType
		}
		return t
	}
	tok := req.Token
	t := target{sum: tok.Sum, tokenType: req.TokenType, realm: c.tokenRealm(req), client: req.Client,
		expiresAt: now.Add(c.cfg.MaxTokenLifetime)}
	if !tok.JWT && !tok.ExpiresAt.IsZero() {
		t.expiresAt = minTime(tok.ExpiresAt.Add(ExpiryLeeway), now.Add(c.cfg.MaxTokenLifetime+ExpiryLeeway))
	}
	if tok.JWT {
		if !tok.Claims.Expiry.IsZero() {
			// An unverified exp is clamped: nothing a token says keeps its
			// revocation longer than the longest lifetime plus leeway.
			t.expiresAt = minTime(tok.Claims.Expiry.Add(ExpiryLeeway), now.Add(c.cfg.MaxTokenLifetime+ExpiryLeeway))
		}
		t.user = tok.Claims.Subject
		if tok.Claims.Client != "" {
			t.client = tok.Claims.Client
		}
	}
	return t
}

// jwtIDTarget is the JWT a request names by issuer and JWT ID: its realm is
// its issuer's (configured, else the realm the request names, else the
// issuer itself).
func (c *Core) jwtIDTarget(req *Request, now time.Time) target {
	j := req.JWTID
	limit := now.Add(c.cfg.MaxTokenLifetime + ExpiryLeeway)
	exp := limit
	if !j.ExpiresAt.IsZero() {
		exp = minTime(j.ExpiresAt.Add(ExpiryLeeway), limit)
	}
	realm, ok := c.cfg.IssuerRealms[j.Issuer]
	switch {
	case ok:
	case req.Realm != "":
		realm = req.Realm
	default:
		realm = j.Issuer
	}
	return target{sum: events.JTIKey(j.Issuer, j.ID), jti: true, realm: realm, client: req.Client, expiresAt: exp}
}

// related returns the tokens the chaining level adds, and the rules.
func (c *Core) related(ctx context.Context, req *Request, rec *Record, main target) ([]Record, []events.Rule, error) {
	reg := c.cfg.Registry
	switch req.Chaining {
	case ChainRelatedTokens, ChainGrant:
		if rec == nil {
			return nil, nil, nil
		}
		if rec.Type == events.RefreshToken {
			kids, err := children(ctx, reg, rec)
			return kids, nil, err
		}
		if req.Chaining == ChainRelatedTokens && !rec.Parent.IsZero() {
			// The parent is looked up in the child's realm only.
			parents, err := reg.Lookup(ctx, rec.Parent, []string{rec.Realm})
			if err != nil || len(parents) == 0 {
				return nil, nil, err
			}
			return parents[:1], nil, nil
		}
	case ChainRelatedConsent:
		if main.realm == "" || main.user == "" || main.client == "" {
			return nil, nil, nil // the consent is unknown: just the token
		}
		rule := events.Rule{Scope: events.ScopeConsent, Realm: main.realm, User: main.user, Client: main.client}
		if reg == nil {
			return nil, []events.Rule{rule}, nil
		}
		all, err := reg.Find(ctx, Scope{Realm: main.realm, User: main.user, Client: main.client})
		return all, []events.Rule{rule}, err
	}
	return nil, nil, nil
}

// planScope revokes a realm, a user, or a user in a realm: an issued-before
// rule (for tokens the registry never saw) and every live registered token
// of the scope, explicitly.
func (c *Core) planScope(ctx context.Context, req *Request) ([]target, []events.Rule, bool, error) {
	r := events.Rule{Realm: req.Realm, User: req.User}
	switch {
	case req.Realm != "" && req.User != "":
		r.Scope = events.ScopeRealmUser
	case req.Realm != "":
		r.Scope = events.ScopeRealm
	default:
		r.Scope = events.ScopeUser
	}
	if c.cfg.Registry == nil {
		return nil, []events.Rule{r}, false, nil
	}
	found, err := c.cfg.Registry.Find(ctx, Scope{Realm: req.Realm, User: req.User})
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: token registry: %w", ErrUnavailable, err)
	}
	targets := make([]target, len(found))
	for i := range found {
		targets[i] = fromRecord(&found[i])
	}
	return targets, []events.Rule{r}, false, nil
}

// tokenRealm is the realm of a token the registry does not know: the realm
// its JWT issuer is configured for, else the realm the request names (OAM's
// identity domain), else an unmapped JWT issuer (its own realm), else
// unknown ("").
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

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
