package publisher

import (
	"errors"
	"fmt"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwtclaims"
	"github.com/revocast/revocast/publisher/auth"
)

// Errors a dialect maps to its own error format.
var (
	// ErrUnavailable: the revocation could not be stored; nothing is counted.
	ErrUnavailable = errors.New("revocation store unavailable")
	// ErrInvalidRequest: the canonical request is malformed (a dialect bug or
	// an input the dialect did not bound).
	ErrInvalidRequest = errors.New("invalid revocation request")
	// ErrForbidden: the principal may not do this; see *ForbiddenError.
	ErrForbidden = errors.New("forbidden")
)

// ForbiddenError says why a principal was refused; it matches ErrForbidden.
type ForbiddenError struct {
	Principal *auth.Principal
	// Op is set when the principal may not use the format at all.
	Op auth.Op
	// Realm is the realm it may not act in ("" with AllRealms: the request
	// reaches every realm, or a token whose realm is unknown).
	Realm     string
	AllRealms bool
}

func (e *ForbiddenError) Error() string {
	switch {
	case e.Op != "":
		return fmt.Sprintf("%s may not use %s", e.Principal, e.Op)
	case e.AllRealms:
		return fmt.Sprintf("%s may not act in every realm (the request reaches all realms, or a token whose realm is unknown)", e.Principal)
	default:
		return fmt.Sprintf("%s may not act in realm [%s]", e.Principal, e.Realm)
	}
}

// Is makes errors.Is(err, ErrForbidden) true.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Chaining is how far a token revocation reaches (Oracle Access Manager's
// chaining_level).
type Chaining string

// Chaining levels.
const (
	ChainNone           Chaining = "NONE"            // just the token
	ChainRelatedTokens  Chaining = "RELATED_TOKENS"  // and its parent refresh token or child access tokens
	ChainRelatedConsent Chaining = "RELATED_CONSENT" // and every token of the consent it was issued under
	// ChainGrant: a refresh token takes every access token of its grant
	// with it (RFC 7009 section 2.1); an access token only itself.
	ChainGrant Chaining = "GRANT"
)

// TokenRef is a token as the core sees it: its revocation key
// (events.TokenKey) and, for a JWT, its unverified claims. The raw token is
// keyed on arrival and not kept.
type TokenRef struct {
	Sum events.Sum
	// Legacy is a JWS's key before schema version 2 (the SHA-256 of its
	// text), under which the registry may still hold it; zero otherwise.
	Legacy events.Sum
	JWT    bool
	Claims jwtclaims.Claims
	// ExpiresAt is an opaque token's expiry when the caller knows it
	// (clamped to --max-token-lifetime); zero: unknown.
	ExpiresAt time.Time
}

// RefFromToken keys a raw token and reads its claims if it is a JWT.
func RefFromToken(raw string) TokenRef {
	sum, form := events.TokenKeyForm(raw)
	ref := TokenRef{Sum: sum}
	if form == events.FormJWS {
		ref.Legacy = events.LegacyTokenKey(raw)
		if c, err := jwtclaims.Parse(raw); err == nil {
			ref.JWT, ref.Claims = true, c
		}
	}
	return ref
}

// RefFromSum refers to a token by its hash only.
func RefFromSum(sum events.Sum) TokenRef { return TokenRef{Sum: sum} }

// JWTID names a JWT by its issuer and JWT ID, for a revocation made without
// the token (events.JTIKey).
type JWTID struct {
	Issuer string
	ID     string
	// ExpiresAt is when the JWT expires, if known (clamped to
	// --max-token-lifetime); zero: the longest lifetime.
	ExpiresAt time.Time
}

// Request is a revocation in canonical form. Either Token is set (one token,
// with its type and chaining level), or JWTID (one JWT by issuer and ID), or
// Session (one login session of Realm), or all three are unset and Realm
// and/or User name a scope whose every token is revoked.
type Request struct {
	// Op is the format it came in (or the registry), which the principal
	// must be allowed.
	Op auth.Op
	// Principal is who asked; every request must carry one.
	Principal *auth.Principal

	Token     *TokenRef
	JWTID     *JWTID
	TokenType string // events.AccessToken, events.RefreshToken, or "" when unknown
	Chaining  Chaining
	// Aliases are other spellings of Token a client may have meant (OAM's
	// documented curl double-encodes the token): they are revoked with it
	// but not counted.
	Aliases []TokenRef
	// OwnedByClient: a token the registry knows must have been issued to
	// Client (OneLogin, RFC 7009), else ErrWrongClient and nothing is revoked.
	OwnedByClient bool

	// For a token: the realm (OAM identity domain) the request was made in,
	// and the client that asked. For a scope request: the realm and/or user
	// whose tokens are revoked.
	Realm  string
	User   string
	Client string

	// Session is a session id (a JWT's sid) of Realm: every token of that
	// session is revoked by a session rule.
	Session string
	// IssuedBefore dates the request's rules back to when their source
	// says the scope was revoked (a signal's event time): tokens issued
	// after it are not revoked. Zero, or later than now: now. A rule is
	// never dated before the last rule of its scope (see RuleMarks).
	IssuedBefore time.Time
	// IdempotencyKey, when set, names the request's messages (their
	// Nats-Msg-Id) instead of its generated id: a source that delivers the
	// same signal twice (a transmitter's retry) has it stored once within
	// the stream's duplicate window. 1 to 64 of [A-Za-z0-9_-].
	IdempotencyKey string
}

// Validate checks the request's shape.
func (r *Request) Validate() error {
	if r.Token == nil && r.JWTID == nil && r.Realm == "" && r.User == "" {
		return fmt.Errorf("%w: neither a token nor a realm or user", ErrInvalidRequest)
	}
	if r.Session != "" && (r.Token != nil || r.JWTID != nil || r.User != "" || r.Realm == "" || len(r.Session) > events.MaxNameLen) {
		return fmt.Errorf("%w: a session needs its realm (and nothing else to revoke), and an id of at most %d bytes",
			ErrInvalidRequest, events.MaxNameLen)
	}
	if r.IdempotencyKey != "" && events.ValidID(r.IdempotencyKey) != nil {
		return fmt.Errorf("%w: an idempotency key is 1 to 64 of [A-Za-z0-9_-]", ErrInvalidRequest)
	}
	if r.Token != nil && r.JWTID != nil {
		return fmt.Errorf("%w: a token or a JWT ID, not both", ErrInvalidRequest)
	}
	if j := r.JWTID; j != nil && (j.Issuer == "" || j.ID == "" || len(j.Issuer) > events.MaxNameLen || len(j.ID) > events.MaxNameLen) {
		return fmt.Errorf("%w: a JWT ID needs an issuer and an id of 1 to %d bytes", ErrInvalidRequest, events.MaxNameLen)
	}
	if r.Token == nil && len(r.Aliases) > 0 || len(r.Aliases) > 4 {
		return fmt.Errorf("%w: aliases only go with a token, at most 4", ErrInvalidRequest)
	}
	for _, f := range []string{r.Realm, r.User, r.Client} {
		if len(f) > events.MaxNameLen {
			return fmt.Errorf("%w: a name is longer than %d bytes", ErrInvalidRequest, events.MaxNameLen)
		}
	}
	switch r.Chaining {
	case "", ChainNone, ChainRelatedTokens, ChainRelatedConsent, ChainGrant:
	default:
		return fmt.Errorf("%w: chaining level %q", ErrInvalidRequest, r.Chaining)
	}
	return nil
}

// DetailKind says what went wrong for one entry of a Result.
type DetailKind string

// Kinds of per-token failures.
const (
	// DetailStore: the revocation could not be stored; it is not counted.
	DetailStore DetailKind = "store"
	// DetailUncounted: the revocation is stored and enforced, but whether
	// it was already revoked could not be recorded (its ledger mark); it is
	// not counted.
	DetailUncounted DetailKind = "uncounted"
	// DetailPropagation: a sidecar reported it could not apply the revocation.
	DetailPropagation DetailKind = "propagation"
	// DetailTimeout: a sidecar did not confirm within the propagation timeout.
	// The revocation is stored and applies when that sidecar catches up.
	DetailTimeout DetailKind = "timeout"
	// DetailConflict: two live instances announce the sidecar's id, so
	// neither's confirmation is trusted. The revocation is stored.
	DetailConflict DetailKind = "conflict"
)

// Detail is one failure, named by token hash (or rule) and sidecar.
type Detail struct {
	Kind       DetailKind
	Subscriber string     // for propagation and timeout
	Token      events.Sum // zero when the failure is about a rule or a whole sidecar
	Rule       string     // the rule, for rule failures
	Timeout    time.Duration
	Err        error
}

// Result is what a revocation request achieved.
type Result struct {
	RequestID string
	// NotFound: the registry is authoritative and does not know the token;
	// nothing was revoked.
	NotFound bool
	// Invalidated counts tokens this request revoked (stored).
	Invalidated int
	// PreviouslyInvalidated counts tokens that were already revoked.
	PreviouslyInvalidated int
	// Details lists every per-token failure and missing confirmation. They
	// never reduce Invalidated: a stored revocation is counted.
	Details []Detail
}
