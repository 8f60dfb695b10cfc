package subscriber

import (
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwtclaims"
)

// Verdict is the answer to "is this token revoked?".
type Verdict int

// Verdicts.
const (
	Allowed     Verdict = iota // not revoked (as far as this sidecar can vouch)
	Revoked                    // revoked: deny
	Unavailable                // the sidecar cannot vouch (not ready, or stale/unhealthy under the deny policy): deny
)

func (v Verdict) String() string { return [...]string{"allowed", "revoked", "unavailable"}[v] }

// Decision is a check's answer. Reason is a constant string (no allocation).
type Decision struct {
	Verdict Verdict
	// Reason: "token" or "rule:<scope>" when revoked; why, when unavailable.
	Reason string
	// Stale is set when the answer comes from state the sidecar could not
	// confirm as current (stale or unhealthy under the allow policy).
	Stale bool
}

// Claims are explicit claims a caller may give instead of (or for) a JWT.
type Claims struct {
	Realm    string // the realm; or
	Issuer   string // the issuer, mapped to a realm as for JWTs
	Subject  string
	Client   string
	JTI      string // the JWT ID: denied when (Issuer, JTI) is revoked
	Session  string // the session id (sid): denied by a session rule of the realm
	IssuedAt time.Time
}

const (
	reasonToken        = "token"
	reasonJTI          = "jwt_id"
	reasonNotReady     = "not ready: replaying the revocation stream"
	reasonStale        = "stale: cannot confirm the revocation state is current (policy deny)"
	reasonUnhealthy    = "unhealthy: a revocation could not be applied (policy deny)"
	reasonOverCapacity = "over capacity: revocations did not fit in the deny-cache; denying every token until they do (raise --cache-capacity)"
	reasonRulePrefix   = "rule:"
	reasonRealm        = reasonRulePrefix + string(events.ScopeRealm)
	reasonUser         = reasonRulePrefix + string(events.ScopeUser)
	reasonRealmUser    = reasonRulePrefix + string(events.ScopeRealmUser)
	reasonConsentRule  = reasonRulePrefix + string(events.ScopeConsent)
	reasonSessionRule  = reasonRulePrefix + string(events.ScopeSession)
)

func ruleReason(sc events.Scope) string {
	switch sc {
	case events.ScopeRealm:
		return reasonRealm
	case events.ScopeUser:
		return reasonUser
	case events.ScopeRealmUser:
		return reasonRealmUser
	case events.ScopeSession:
		return reasonSessionRule
	default:
		return reasonConsentRule
	}
}

// gate answers Unavailable when the sidecar cannot vouch for its state, and
// says whether an answer is stale.
func (s *Subscriber) gate() (Decision, bool) {
	if !s.ready.Load() {
		return Decision{Verdict: Unavailable, Reason: reasonNotReady}, false
	}
	if s.lost.Load() > 0 || s.cache.Health() != nil {
		// Revocations were dropped: no answer can be vouched for, under
		// either policy. Never fail open.
		return Decision{Verdict: Unavailable, Reason: reasonOverCapacity}, false
	}
	stale, healthy := s.stale(), s.healthy()
	if s.cfg.StalePolicy == PolicyDeny {
		if stale {
			return Decision{Verdict: Unavailable, Reason: reasonStale}, false
		}
		if !healthy {
			return Decision{Verdict: Unavailable, Reason: reasonUnhealthy}, false
		}
	}
	return Decision{Stale: stale || !healthy}, true
}

// count counts d on the stripe a byte of the token's hash picks (0 when
// there is none).
func (s *Subscriber) count(d Decision, stripe byte) Decision {
	s.m.checks.inc(d.Verdict, stripe)
	return d
}

// Check answers for a raw token: revoked by its key (events.TokenKey: for a
// JWT, what its signature protects, so every spelling of it is denied), by
// its JWT ID, or by an issued-before rule matching its iss/sub/azp/sid/iat
// (the user by the realm's configured user claim, sub by default), read
// without verifying the signature (that is the resource server's job).
func (s *Subscriber) Check(token string) Decision {
	d, ok := s.gate()
	if !ok {
		return s.count(d, 0)
	}
	sum, form := events.TokenKeyForm(token)
	if s.revokedSum(sum) {
		d.Verdict, d.Reason = Revoked, reasonToken
		return s.count(d, sum[1])
	}
	if form != events.FormJWS {
		return s.count(d, sum[1])
	}
	now := time.Now().UnixNano()
	if s.legacyUntil.Load() > now && s.revokedSum(events.LegacyTokenKey(token)) {
		d.Verdict, d.Reason = Revoked, reasonToken
		return s.count(d, sum[1])
	}
	byJTI := s.jtiUntil.Load() > now
	if !byJTI && s.rules.Len() == 0 {
		return s.count(d, sum[1])
	}
	c, err := jwtclaims.Parse(token)
	if err != nil {
		return s.count(d, sum[1])
	}
	cl := Claims{Issuer: c.Issuer, Subject: c.Subject, Client: c.Client, JTI: c.JTI, Session: c.Session, IssuedAt: c.IssuedAt}
	if len(s.cfg.UserClaims) > 0 {
		// The realm names its users by another claim (user_claim): rules
		// name the user by that claim's value.
		cl.Realm = s.realmOf(c.Issuer)
		if name := s.cfg.UserClaims[cl.Realm]; name != "" && name != "sub" {
			cl.Subject, _ = jwtclaims.Claim(token, name)
		}
	}
	return s.count(s.matchClaims(d, &cl, byJTI), sum[1])
}

// matchClaims applies the JWT ID revocations and the issued-before rules.
func (s *Subscriber) matchClaims(d Decision, c *Claims, byJTI bool) Decision {
	if byJTI && c.JTI != "" && s.revokedSum(events.JTIKey(c.Issuer, c.JTI)) {
		d.Verdict, d.Reason = Revoked, reasonJTI
		return d
	}
	realm := c.Realm
	if realm == "" {
		realm = s.realmOf(c.Issuer)
	}
	if r, hit := s.rules.Match(realm, c.Subject, c.Client, c.IssuedAt); hit {
		d.Verdict, d.Reason = Revoked, ruleReason(r.Scope)
		return d
	}
	if c.Session != "" {
		if _, hit := s.rules.MatchSession(realm, c.Session, c.IssuedAt); hit {
			d.Verdict, d.Reason = Revoked, reasonSessionRule
		}
	}
	return d
}

// CheckSum answers for a token hash, with optional explicit claims for the
// issued-before rules (nil: rules are not consulted).
func (s *Subscriber) CheckSum(sum events.Sum, claims *Claims) Decision {
	d, ok := s.gate()
	if !ok {
		return s.count(d, 0)
	}
	if s.revokedSum(sum) {
		d.Verdict, d.Reason = Revoked, reasonToken
		return s.count(d, sum[1])
	}
	if claims != nil {
		d = s.matchClaims(d, claims, s.jtiUntil.Load() > time.Now().UnixNano())
	}
	return s.count(d, sum[1])
}

func (s *Subscriber) revokedSum(sum events.Sum) bool {
	return s.cache.Contains(sum) || s.inFailed(sum)
}

// realmOf maps an issuer to its realm name; an unmapped issuer is its own realm.
func (s *Subscriber) realmOf(iss string) string {
	if r, ok := s.cfg.IssuerRealms[iss]; ok {
		return r
	}
	return iss
}
