package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Errors of Authenticate.
var (
	// ErrBadCredentials: unknown id or wrong secret (which one is not said).
	ErrBadCredentials = errors.New("bad credentials")
	// ErrRateLimited: too many failed attempts from this address or for this id.
	ErrRateLimited = errors.New("too many failed authentication attempts")
	// ErrConfig wraps configuration problems.
	ErrConfig = errors.New("invalid credentials configuration")
)

// RateLimitedError says when to try again; it matches ErrRateLimited.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s: retry after %s", ErrRateLimited, e.RetryAfter.Round(time.Second))
}

// Seconds is RetryAfter in whole seconds for a Retry-After header: rounded
// up (a client that waits as told is not refused again), at least 1.
func (e *RateLimitedError) Seconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// Credential is one configured principal.
type Credential struct {
	Kind       Kind
	ID         string
	SecretHash string   // argon2id or bcrypt, never the secret
	Allow      []string // operations, or "*"
	Realms     []string // realms, or "*"
}

// Config configures a Store.
type Config struct {
	Credentials []Credential
	// FailuresPerMinute is the sustained rate of failed attempts allowed per
	// id and per address (default 10); Burst how many may come at once (default 10).
	FailuresPerMinute int
	FailureBurst      int
	// VerifiedTTL is how long a verified secret is remembered (default 5m).
	VerifiedTTL time.Duration
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	known := map[Op]bool{}
	for _, o := range Ops {
		known[o] = true
	}
	for i, cr := range c.Credentials {
		where := fmt.Sprintf("%s #%d", cr.Kind, i+1)
		if cr.ID != "" {
			where = fmt.Sprintf("%s %q", cr.Kind, cr.ID)
		}
		switch cr.Kind {
		case KindClient, KindUser, KindAPIKey:
		default:
			errs = append(errs, fmt.Errorf("%w: %s: unknown kind", ErrConfig, where))
		}
		if cr.ID == "" || len(cr.ID) > 256 {
			errs = append(errs, fmt.Errorf("%w: %s: id must be 1 to 256 characters", ErrConfig, where))
		}
		key := string(cr.Kind) + "\x00" + cr.ID
		if seen[key] {
			errs = append(errs, fmt.Errorf("%w: %s is defined twice", ErrConfig, where))
		}
		seen[key] = true
		if err := ValidHash(cr.SecretHash); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: secret: %w", ErrConfig, where, err))
		}
		if len(cr.Allow) == 0 {
			errs = append(errs, fmt.Errorf("%w: %s: allow lists no operation (use %s, or \"*\")", ErrConfig, where, joinOps(Ops)))
		}
		for _, o := range cr.Allow {
			if o != Any && !known[Op(o)] {
				errs = append(errs, fmt.Errorf("%w: %s: unknown operation %q (want %s, or \"*\")", ErrConfig, where, o, joinOps(Ops)))
			}
		}
		if len(cr.Realms) == 0 {
			errs = append(errs, fmt.Errorf("%w: %s: realms lists no realm (use \"*\" for all)", ErrConfig, where))
		}
		for _, r := range cr.Realms {
			if r == "" || len(r) > 1024 {
				errs = append(errs, fmt.Errorf("%w: %s: a realm name must be 1 to 1024 characters", ErrConfig, where))
			}
		}
	}
	if c.FailuresPerMinute < 0 || c.FailureBurst < 0 || c.VerifiedTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: limits must not be negative", ErrConfig))
	}
	return errors.Join(errs...)
}

type entry struct {
	hash      string
	dummy     string // a dummy of hash's cost
	principal *Principal
}

type verified struct {
	mac     [32]byte
	expires time.Time
}

// Store authenticates principals. Safe for concurrent use.
type Store struct {
	byKind   map[Kind]map[string]*entry
	dummies  map[Kind]*dummies // hashed for unknown ids
	all      *dummies          // for a kind without principals: every kind's
	fallback string            // when there are no principals at all
	macKey   [32]byte
	ttl      time.Duration
	limit    rate.Limit
	burst    int
	now      func() time.Time
	mu       sync.Mutex
	verified map[string]verified
	limiters map[string]*rate.Limiter
}

// maxLimiters bounds the rate limiter table; idle (full) limiters are dropped first.
const maxLimiters = 100_000

// NewStore validates cfg and returns a Store.
func NewStore(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FailuresPerMinute == 0 {
		cfg.FailuresPerMinute = 10
	}
	if cfg.FailureBurst == 0 {
		cfg.FailureBurst = 10
	}
	if cfg.VerifiedTTL == 0 {
		cfg.VerifiedTTL = 5 * time.Minute
	}
	s := &Store{byKind: map[Kind]map[string]*entry{}, dummies: map[Kind]*dummies{}, all: &dummies{},
		fallback: argonDummy(argonMemory, argonTime, argonThreads, saltLen, argonKeyLen), ttl: cfg.VerifiedTTL,
		limit: rate.Limit(float64(cfg.FailuresPerMinute) / 60), burst: cfg.FailureBurst, now: time.Now,
		verified: map[string]verified{}, limiters: map[string]*rate.Limiter{}}
	if _, err := rand.Read(s.macKey[:]); err != nil {
		return nil, err
	}
	byCost := map[string]string{}
	for _, cr := range cfg.Credentials {
		cost := costOf(cr.SecretHash)
		if byCost[cost] == "" {
			byCost[cost] = dummyLike(cr.SecretHash)
		}
		if s.byKind[cr.Kind] == nil {
			s.byKind[cr.Kind], s.dummies[cr.Kind] = map[string]*entry{}, &dummies{}
		}
		s.byKind[cr.Kind][cr.ID] = &entry{hash: cr.SecretHash, dummy: byCost[cost],
			principal: NewPrincipal(cr.Kind, cr.ID, cr.Allow, cr.Realms)}
		s.dummies[cr.Kind].add(byCost[cost])
		s.all.add(byCost[cost])
	}
	return s, nil
}

// Len returns the number of configured principals of kind.
func (s *Store) Len(kind Kind) int { return len(s.byKind[kind]) }

// Creds is one id and secret to try.
type Creds struct{ ID, Secret string }

// Authenticate verifies credentials of kind, presented from peer (the
// client's address). Several candidates may be given for one presentation
// (RFC 6749's form-encoded Basic credentials are tried decoded and as they
// are); a failure counts once. It returns ErrBadCredentials or a
// *RateLimitedError.
func (s *Store) Authenticate(kind Kind, peer string, creds ...Creds) (*Principal, error) {
	if len(creds) == 0 {
		return nil, ErrBadCredentials
	}
	idKey := "id\x00" + string(kind) + "\x00" + creds[0].ID
	peerKey := "peer\x00" + peer
	if wait := s.blocked(idKey, peerKey); wait > 0 {
		return nil, &RateLimitedError{RetryAfter: wait}
	}
	for _, c := range creds {
		if p := s.verify(kind, c); p != nil {
			return p, nil
		}
	}
	s.fail(idKey, peerKey)
	return nil, ErrBadCredentials
}

func (s *Store) verify(kind Kind, c Creds) *Principal {
	if len(c.ID) > 256 || len(c.Secret) > MaxSecretLen {
		_ = VerifySecret(s.dummyFor(kind, c.ID), "")
		return nil
	}
	e := s.byKind[kind][c.ID]
	if e == nil {
		_ = VerifySecret(s.dummyFor(kind, c.ID), c.Secret) // same cost as a known id
		return nil
	}
	cacheKey := string(kind) + "\x00" + c.ID
	m := hmac.New(sha256.New, s.macKey[:])
	m.Write([]byte(c.Secret))
	var mac [32]byte
	copy(mac[:], m.Sum(nil))
	s.mu.Lock()
	v, ok := s.verified[cacheKey]
	s.mu.Unlock()
	if ok && s.now().Before(v.expires) && hmac.Equal(v.mac[:], mac[:]) {
		return e.principal
	}
	if !VerifySecret(e.hash, c.Secret) {
		return nil
	}
	s.mu.Lock()
	s.verified[cacheKey] = verified{mac: mac, expires: s.now().Add(s.ttl)}
	s.mu.Unlock()
	return e.principal
}

// dummyFor returns the dummy to hash for id: one of its own hash's cost
// when it exists (its secret was too long to verify), else one picked for it.
func (s *Store) dummyFor(kind Kind, id string) string {
	if e := s.byKind[kind][id]; e != nil {
		return e.dummy
	}
	d := s.dummies[kind]
	if d == nil {
		d = s.all
	}
	if d.total == 0 {
		return s.fallback
	}
	m := hmac.New(sha256.New, s.macKey[:])
	m.Write([]byte("dummy\x00" + string(kind) + "\x00" + id))
	return d.pick(m.Sum(nil))
}

// blocked returns how long to wait when either limiter has no failure left.
func (s *Store) blocked(keys ...string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var wait time.Duration
	for _, k := range keys {
		l := s.limiters[k]
		if l == nil || l.TokensAt(now) >= 1 {
			continue
		}
		r := l.ReserveN(now, 1)
		wait = max(wait, r.DelayFrom(now))
		r.CancelAt(now)
	}
	if wait > 0 && wait < time.Second {
		wait = time.Second
	}
	return wait
}

func (s *Store) fail(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.limiters) > maxLimiters {
		for k, l := range s.limiters {
			if l.TokensAt(now) >= float64(s.burst) {
				delete(s.limiters, k)
			}
		}
	}
	for _, k := range keys {
		l := s.limiters[k]
		if l == nil {
			l = rate.NewLimiter(s.limit, s.burst)
			s.limiters[k] = l
		}
		l.AllowN(now, 1)
	}
}
