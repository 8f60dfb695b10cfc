package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// gate bounds the slow hashes running at once (run) and the callers waiting
// for a turn (queue); a caller past both is refused at once.
type gate struct {
	run   chan struct{}
	admit chan struct{}
}

func newGate(run, queue int) *gate {
	return &gate{run: make(chan struct{}, run), admit: make(chan struct{}, run+queue)}
}

func (g *gate) enter() bool {
	select {
	case g.admit <- struct{}{}:
	default:
		return false
	}
	g.run <- struct{}{}
	return true
}

func (g *gate) leave() {
	<-g.run
	<-g.admit
}

// cache remembers verified secrets as HMACs under a per-process key (never
// in clear) by kind and id, so a busy client does not pay the slow hash on
// every request.
type cache struct {
	mu  sync.Mutex
	key [32]byte
	ttl time.Duration
	m   map[string]verified
}

type verified struct {
	mac     [32]byte
	expires time.Time
}

// sum is an HMAC of parts under the per-process key, each length-prefixed
// so that no two lists of parts sum alike.
func (c *cache) sum(parts ...string) [32]byte {
	m := hmac.New(sha256.New, c.key[:])
	for _, p := range parts {
		m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		m.Write([]byte(p))
	}
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

func (c *cache) has(kind Kind, cr Creds, now time.Time) bool {
	mac := c.sum(cr.Secret)
	c.mu.Lock()
	v, ok := c.m[string(kind)+"\x00"+cr.ID]
	c.mu.Unlock()
	return ok && now.Before(v.expires) && hmac.Equal(v.mac[:], mac[:])
}

func (c *cache) add(kind Kind, cr Creds, now time.Time) {
	mac := c.sum(cr.Secret)
	c.mu.Lock()
	c.m[string(kind)+"\x00"+cr.ID] = verified{mac: mac, expires: now.Add(c.ttl)}
	c.mu.Unlock()
}

// candidate is a reading of the credentials whose id exists.
type candidate struct {
	Creds
	e *entry
}

// candidates returns the readings whose id exists and whose secret may
// match: only those are verified.
func (s *Store) candidates(kind Kind, creds []Creds) []candidate {
	var out []candidate
	for _, c := range creds {
		if e := s.byKind[kind][c.ID]; e != nil && len(c.Secret) <= MaxSecretLen {
			out = append(out, candidate{c, e})
		}
	}
	return out
}

// verify verifies the candidates, or when there is none hashes first's
// secret once against a dummy, under the gate: it returns the principal,
// nil for bad credentials, or a busy *RateLimitedError when the gate's
// queue is full.
func (s *Store) verify(kind Kind, first Creds, cands []candidate) (*Principal, error) {
	if !s.gate.enter() {
		return nil, &RateLimitedError{RetryAfter: time.Second, Busy: true}
	}
	defer s.gate.leave()
	if len(cands) == 0 {
		s.slowHash(s.dummyFor(kind, first.ID), first.Secret)
		return nil, nil
	}
	for _, c := range cands {
		if s.slowHash(c.e.hash, c.Secret) {
			s.cache.add(kind, c.Creds, s.now())
			return c.e.principal, nil
		}
	}
	return nil, nil
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
	sum := s.cache.sum("dummy", string(kind), id)
	return d.pick(sum[:])
}

// slowHash verifies secret against hash, counting the hashes at once.
func (s *Store) slowHash(hash, secret string) bool {
	if len(secret) > MaxSecretLen {
		secret = secret[:MaxSecretLen]
	}
	s.stats.started()
	defer s.stats.running.Add(-1)
	return VerifySecret(hash, secret)
}

// hashStats count slow hashes: how many were computed, how many run now,
// and the most that ran at once.
type hashStats struct {
	hashes, running, peak atomic.Int64
}

func (h *hashStats) started() {
	h.hashes.Add(1)
	n := h.running.Add(1)
	for p := h.peak.Load(); n > p; p = h.peak.Load() {
		if h.peak.CompareAndSwap(p, n) {
			return
		}
	}
}
