package auth

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

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
	// address, per id at one address, and per id before attempts on it are
	// slowed down (default 10); FailureBurst how many may come at once
	// (default 10).
	FailuresPerMinute int
	FailureBurst      int
	// VerifiedTTL is how long a verified secret is remembered (default 5m).
	VerifiedTTL time.Duration
	// Verifiers bounds the secrets verified at once (default the number of
	// CPUs, but no more than fit in 48 MiB of the largest configured argon2id
	// memory, at least one); VerifyQueue how many more attempts may wait for
	// a turn (default 8 per verifier). An attempt past both is refused with
	// ErrBusy.
	Verifiers   int
	VerifyQueue int
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
		case KindTransmitter:
			// Allowed OpSSF and nothing else; nobody else is allowed OpSSF.
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
		if cr.Kind == KindTransmitter {
			if len(cr.Allow) != 1 || Op(cr.Allow[0]) != OpSSF {
				errs = append(errs, fmt.Errorf("%w: %s: a transmitter is allowed %s and nothing else", ErrConfig, where, OpSSF))
			}
		} else if len(cr.Allow) == 0 {
			errs = append(errs, fmt.Errorf("%w: %s: allow lists no operation (use %s, or \"*\")", ErrConfig, where, joinOps(Ops)))
		}
		for _, o := range cr.Allow {
			if cr.Kind == KindTransmitter {
				break
			}
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
	if c.FailuresPerMinute < 0 || c.FailureBurst < 0 || c.VerifiedTTL < 0 || c.Verifiers < 0 || c.VerifyQueue < 0 {
		errs = append(errs, fmt.Errorf("%w: limits must not be negative", ErrConfig))
	}
	return errors.Join(errs...)
}

type entry struct {
	hash      string
	dummy     string // a dummy of hash's cost
	principal *Principal
}

// Store authenticates principals. Safe for concurrent use.
type Store struct {
	byKind   map[Kind]map[string]*entry
	dummies  map[Kind]*dummies // hashed for unknown ids
	all      *dummies          // for a kind without principals: every kind's
	fallback string            // when there are no principals at all
	cache    *cache
	flights  *flights
	failures *buckets
	known    *knownPairs
	gate     *gate
	now      func() time.Time
	sleep    func(time.Duration)
	stats    hashStats
}

const (
	// MaxSlowdown caps how long an attempt on an id waits while failures
	// from elsewhere have spent the id's budget.
	MaxSlowdown = 2 * time.Second
	maxBuckets  = 100_000 // failure budgets held
	maxKnown    = 10_000  // (id, address) pairs remembered as having authenticated
	// verifyMemory bounds the argon2id memory of the hashes run at once by
	// default (the garbage collector lets about twice as much be resident).
	verifyMemory = 48 << 20
)

// NewStore validates cfg and returns a Store.
func NewStore(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{byKind: map[Kind]map[string]*entry{}, dummies: map[Kind]*dummies{}, all: &dummies{},
		fallback: argonDummy(argonMemory, argonTime, argonThreads, saltLen, argonKeyLen),
		cache:    &cache{key: [32]byte(random(32)), ttl: cfg.VerifiedTTL, m: map[string]verified{}},
		flights:  &flights{m: map[[32]byte]*flight{}},
		failures: newBuckets(cfg.FailuresPerMinute, cfg.FailureBurst, maxBuckets),
		known:    newKnownPairs(maxKnown), gate: newGate(cfg.Verifiers, cfg.VerifyQueue),
		now: time.Now, sleep: time.Sleep}
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

func (c Config) withDefaults() Config {
	if c.FailuresPerMinute == 0 {
		c.FailuresPerMinute = 10
	}
	if c.FailureBurst == 0 {
		c.FailureBurst = 10
	}
	if c.VerifiedTTL == 0 {
		c.VerifiedTTL = 5 * time.Minute
	}
	if c.Verifiers == 0 {
		c.Verifiers = runtime.NumCPU()
		if len(c.Credentials) == 0 { // unknown ids are hashed against the default argon2id
			c.Verifiers = min(c.Verifiers, verifyMemory/(argonMemory<<10))
		}
		for _, cr := range c.Credentials {
			if a, err := parseArgon(cr.SecretHash); err == nil {
				c.Verifiers = max(1, min(c.Verifiers, verifyMemory/(int(a.memory)<<10)))
			}
		}
	}
	if c.VerifyQueue == 0 {
		c.VerifyQueue = 8 * c.Verifiers
	}
	return c
}

// Len returns the number of configured principals of kind.
func (s *Store) Len(kind Kind) int { return len(s.byKind[kind]) }
