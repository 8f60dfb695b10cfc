package auth

import (
	"net/netip"
	"sync"
	"time"
)

// buckets are token buckets of failed attempts by key: each holds up to
// burst failures and refills at rate per second. A failure is taken before
// the secret is verified and given back when it proves right. Safe for
// concurrent use.
type buckets struct {
	mu    sync.Mutex
	rate  float64
	burst float64
	max   int // keys held; past it full buckets go first, then any
	m     map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newBuckets(perMinute, burst, max int) *buckets {
	return &buckets{rate: float64(perMinute) / 60, burst: float64(burst), max: max, m: map[string]*bucket{}}
}

// take takes one failure from key's bucket, or returns how long until one
// is left (and takes nothing).
func (b *buckets) take(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.get(key, now)
	if k.tokens >= 1 {
		k.tokens--
		return 0
	}
	return b.until(k.tokens)
}

// slow takes one failure from key's bucket even when none is left, and
// returns how long the caller should wait for it: the failure is owed until
// then. A wait over limit takes nothing and returns limit, so the debt, and
// the time it takes to pay back after an attack, stays bounded.
func (b *buckets) slow(key string, now time.Time, limit time.Duration) (wait time.Duration, took bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.get(key, now)
	if wait = b.until(k.tokens); wait > limit {
		return limit, false
	}
	k.tokens--
	return wait, true
}

// give gives back one failure taken from key.
func (b *buckets) give(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k := b.m[key]; k != nil {
		b.refill(k, now)
		k.tokens = min(b.burst, k.tokens+1)
	}
}

func (b *buckets) until(tokens float64) time.Duration {
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / b.rate * float64(time.Second))
}

func (b *buckets) refill(k *bucket, now time.Time) {
	if now.After(k.at) {
		k.tokens = min(b.burst, k.tokens+now.Sub(k.at).Seconds()*b.rate)
		k.at = now
	}
}

// get returns key's bucket refilled to now, making room for a new one by
// dropping full buckets (they hold nothing), then any, down to 9/10 of max.
func (b *buckets) get(key string, now time.Time) *bucket {
	if k := b.m[key]; k != nil {
		b.refill(k, now)
		return k
	}
	if len(b.m) >= b.max {
		for other, k := range b.m {
			if b.refill(k, now); k.tokens >= b.burst {
				delete(b.m, other)
			}
		}
		for other := range b.m {
			if len(b.m) < b.max*9/10 {
				break
			}
			delete(b.m, other)
		}
	}
	k := &bucket{tokens: b.burst, at: now}
	b.m[key] = k
	return k
}

// knownPairs remembers which (kind, id, address) authenticated, for knownFor
// and at most about max: two generations, the older dropped when the newer
// is half full.
type knownPairs struct {
	mu       sync.Mutex
	max      int
	cur, old map[string]time.Time
}

const knownFor = 7 * 24 * time.Hour

func newKnownPairs(max int) *knownPairs {
	return &knownPairs{max: max, cur: map[string]time.Time{}, old: map[string]time.Time{}}
}

func (k *knownPairs) has(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.cur[key]
	if !ok {
		at, ok = k.old[key]
	}
	return ok && now.Sub(at) < knownFor
}

func (k *knownPairs) add(key string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.cur[key]; !ok && len(k.cur) >= k.max/2 {
		k.old, k.cur = k.cur, map[string]time.Time{}
	}
	k.cur[key] = now
}

// addrKey is the address failures are counted by: an IPv6 address by its
// /64, which one host usually holds whole; anything else as it is.
func addrKey(peer string) string {
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return peer
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}
