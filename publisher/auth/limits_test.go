package auth

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// clock is a fake time for a store, and the waits it asked for.
type clock struct {
	mu       sync.Mutex
	now      time.Time
	slept    []time.Duration
	slotHeld bool // a wait was asked for while holding a verification slot
}

func fakeClock(s *Store) *clock {
	c := &clock{now: time.Now()}
	s.now = func() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
	s.sleep = func(d time.Duration) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.slept = append(c.slept, d)
		c.slotHeld = c.slotHeld || len(s.gate.run) > 0 // these tests authenticate one at a time
	}
	return c
}

func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// waits returns the waits asked for since the last call.
func (c *clock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.slept
	c.slept = nil
	return w
}

// Failed attempts are limited per address and per id at an address: past
// either, even the right secret is refused with a Retry-After. Failures
// elsewhere do not refuse an id, and one address's failures on one id do
// not refuse another address.
func TestRateLimit(t *testing.T) {
	h := cheapHash(t, "right")
	s := mustStore(t, Config{FailuresPerMinute: 6, FailureBurst: 3, Credentials: []Credential{client("c", h), client("d", h)}})
	clk := fakeClock(s)
	for i := 0; i < 3; i++ {
		if _, err := s.Authenticate(KindClient, "1.1.1.1", Creds{"c", "wrong"}); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := s.Authenticate(KindClient, "1.1.1.1", Creds{"c", "right"})
	var rl *RateLimitedError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) || errors.Is(err, ErrBusy) || rl.RetryAfter < 9*time.Second {
		t.Fatalf("after the burst, even the right secret is refused from that address: %v", err)
	}
	// per address: the same address is refused for another id
	if _, err := s.Authenticate(KindClient, "1.1.1.1", Creds{"d", "right"}); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("address limit for another id: %v", err)
	}
	// per id: another address is slowed down, not refused
	clk.waits()
	if _, err := s.Authenticate(KindClient, "2.2.2.2", Creds{"c", "right"}); err != nil {
		t.Fatalf("the id's failures elsewhere refuse the right secret: %v", err)
	}
	if w := clk.waits(); len(w) != 1 || w[0] != MaxSlowdown {
		t.Fatalf("waits %v, want one of %s", w, MaxSlowdown)
	}
	if _, err := s.Authenticate(KindClient, "3.3.3.3", Creds{"d", "right"}); err != nil {
		t.Fatalf("unrelated client: %v", err)
	}
	if w := clk.waits(); len(w) != 0 {
		t.Fatalf("an id without failures waited %v", w)
	}
	clk.add(11 * time.Second) // 6/min refills one every 10s
	if _, err := s.Authenticate(KindClient, "1.1.1.1", Creds{"d", "right"}); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
}

// Seen: 40 parallel wrong passwords from one address all reached the hash,
// because the limit was checked before and recorded after. The budget is
// taken before: only the burst is hashed, the rest is refused at once.
func TestFailureBudgetIsTakenBeforeTheHash(t *testing.T) {
	s := mustStore(t, Config{FailuresPerMinute: 10, FailureBurst: 10, Credentials: []Credential{client("c", cheapHash(t, "right"))}})
	var bad, limited, other int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Go(func() {
			_, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", fmt.Sprint("wrong", i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrBadCredentials):
				bad++
			case errors.Is(err, ErrRateLimited):
				limited++
			default:
				other++
			}
		})
	}
	wg.Wait()
	if bad != 10 || limited != 30 || other != 0 || s.stats.hashes.Load() != 10 {
		t.Fatalf("401: %d, 429: %d, other: %d, hashes: %d; want 10, 30, 0, 10", bad, limited, other, s.stats.hashes.Load())
	}
}

// A success gives back what the attempt took: a client that keeps getting
// it right never runs out.
func TestSuccessGivesTheBudgetBack(t *testing.T) {
	s := mustStore(t, Config{FailuresPerMinute: 1, FailureBurst: 1, VerifiedTTL: time.Nanosecond,
		Credentials: []Credential{client("c", cheapHash(t, "right"))}})
	clk := fakeClock(s)
	for i := 0; i < 3; i++ {
		clk.add(time.Microsecond) // past the verified-secret cache: each is hashed
		if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "right"}); err != nil {
			t.Fatalf("success %d: %v", i, err)
		}
	}
	if s.stats.hashes.Load() != 3 {
		t.Fatalf("%d hashes, want 3", s.stats.hashes.Load())
	}
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "wrong"}); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the one failure allowed: %v", err)
	}
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "wrong"}); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("past it: %v", err)
	}
}

// A remembered secret is answered without a budget or a verification slot.
func TestCachedSecretNeedsNoBudgetNorSlot(t *testing.T) {
	s := mustStore(t, Config{FailuresPerMinute: 1, FailureBurst: 1, Verifiers: 1, VerifyQueue: 1,
		Credentials: []Credential{client("c", cheapHash(t, "right"))}})
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "right"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "wrong"}); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	release := fillGate(t, s)
	defer release()
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "right"}); err != nil {
		t.Fatalf("a remembered secret, budget spent and gate full: %v", err)
	}
}

// fillGate takes every verification slot and queue place, and returns
// what gives them back.
func fillGate(t *testing.T, s *Store) (release func()) {
	t.Helper()
	n := cap(s.gate.admit)
	for range cap(s.gate.run) {
		s.gate.enter()
	}
	for range n - cap(s.gate.run) {
		go s.gate.enter() // waits for a slot
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(s.gate.admit) < n {
		if time.Now().After(deadline) {
			t.Fatal("the gate did not fill")
		}
		time.Sleep(time.Millisecond)
	}
	return func() {
		for range n {
			s.gate.leave()
		}
	}
}

// Past the verification queue an attempt is refused at once with an error
// the handlers answer 429 with Retry-After, and it counts as no failure.
func TestBusyIsRefusedAtOnce(t *testing.T) {
	s := mustStore(t, Config{FailuresPerMinute: 1, FailureBurst: 1, Verifiers: 1, VerifyQueue: 2,
		Credentials: []Credential{client("c", cheapHash(t, "right"))}})
	release := fillGate(t, s)
	_, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "wrong"})
	var rl *RateLimitedError
	if !errors.Is(err, ErrBusy) || !errors.Is(err, ErrRateLimited) || !errors.As(err, &rl) || rl.Seconds() != 1 || !rl.Busy {
		t.Fatalf("full queue: %v", err)
	}
	if s.stats.hashes.Load() != 0 {
		t.Fatal("a refused attempt was hashed")
	}
	release()
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"c", "wrong"}); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the busy refusal spent the budget: %v", err)
	}
}

// No more secrets are hashed at once than there are verifiers.
func TestVerificationsAreBounded(t *testing.T) {
	s := mustStore(t, Config{FailureBurst: 1000, Verifiers: 2, VerifyQueue: 100,
		Credentials: []Credential{client("c", cheapHash(t, "right"))}})
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Go(func() {
			if _, err := s.Authenticate(KindClient, fmt.Sprintf("192.0.2.%d", i), Creds{"c", "wrong"}); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("attempt %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if s.stats.hashes.Load() != 24 || s.stats.peak.Load() > 2 {
		t.Fatalf("%d hashes, at most %d at once; want 24, at most 2", s.stats.hashes.Load(), s.stats.peak.Load())
	}
}

// An unknown id costs one dummy hash however many readings are tried; a
// known one is hashed for its existing readings only.
func TestOneHashPerPresentation(t *testing.T) {
	s := mustStore(t, Config{Credentials: []Credential{client("my client", cheapHash(t, "right"))}})
	for _, c := range []struct {
		name  string
		creds []Creds
	}{
		{"unknown id, two readings", BasicCandidates("no%20body", "s%2B")},
		{"known id encoded, two readings", BasicCandidates("my%20client", "wrong%21")},
		{"known id, a secret too long to verify", []Creds{{"my client", string(make([]byte, MaxSecretLen+1))}}},
		{"an id too long to exist", []Creds{{string(make([]byte, 300)), "x"}}},
	} {
		before := s.stats.hashes.Load()
		if _, err := s.Authenticate(KindClient, "192.0.2.1", c.creds...); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := s.stats.hashes.Load() - before; n != 1 {
			t.Errorf("%s: %d hashes, want 1", c.name, n)
		}
	}
}

// Seen: ten wrong passwords a minute from anywhere kept a known admin out
// (429) even with the right password from another address. Failures from
// elsewhere slow attempts on the id down, at most MaxSlowdown, and an
// address the id authenticated from before is not slowed at all.
func TestAttackElsewhereSlowsTheAdminDownButLetsThemIn(t *testing.T) {
	s := mustStore(t, Config{FailuresPerMinute: 10, FailureBurst: 10, VerifiedTTL: time.Nanosecond,
		Credentials: []Credential{client("admin", cheapHash(t, "right"))}})
	clk := fakeClock(s)
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"admin", "right"}); err != nil {
		t.Fatal(err)
	}
	start := clk.now
	attack := func(id string) []time.Duration {
		clk.now = start
		for i := 0; i < 30; i++ { // from 30 addresses, every one within its own limits
			clk.add(time.Second)
			if _, err := s.Authenticate(KindClient, fmt.Sprintf("203.0.113.%d", i), Creds{id, "guess"}); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("attack on %s %d: %v", id, i, err)
			}
		}
		return clk.waits()
	}
	ghost := attack("ghost")
	admin := attack("admin")
	if len(admin) < 15 || slices.Max(admin) > MaxSlowdown || !slices.Equal(admin, ghost) {
		t.Fatalf("attack waits on the admin %v, on an unknown id %v: want the same, most attempts past the burst slowed, at most %s",
			admin, ghost, MaxSlowdown)
	}
	if _, err := s.Authenticate(KindClient, "192.0.2.1", Creds{"admin", "right"}); err != nil {
		t.Fatalf("from the known address: %v", err)
	}
	if w := clk.waits(); len(w) != 0 {
		t.Fatalf("the known address waited %v", w)
	}
	clk.add(time.Microsecond) // past the verified-secret cache
	if _, err := s.Authenticate(KindClient, "198.51.100.9", Creds{"admin", "right"}); err != nil {
		t.Fatalf("from a new address: %v", err)
	}
	if w := clk.waits(); len(w) != 1 || w[0] > MaxSlowdown {
		t.Fatalf("the new address waited %v, want once, at most %s", w, MaxSlowdown)
	}
	if clk.slotHeld {
		t.Fatal("an attempt waited holding a verification slot")
	}
}

// By default as many secrets are verified at once as there are CPUs, but
// no more argon2id hashes than fit in verifyMemory.
func TestVerifiersDefault(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cpus := runtime.NumCPU()
	for _, c := range []struct {
		hash string
		want int
	}{
		{string(bc), cpus},
		{cheapHash(t, "x"), min(cpus, 6)},      // 8 MiB
		{mustHash(t, "x"), min(cpus, 2)},       // 19 MiB
		{argonDummy(256<<10, 1, 1, 16, 32), 1}, // 256 MiB
	} {
		cfg := Config{Credentials: []Credential{client("a", string(bc)), client("b", c.hash)}}.withDefaults()
		if cfg.Verifiers != c.want || cfg.VerifyQueue != 8*c.want {
			t.Errorf("%s: %d verifiers, queue %d; want %d, %d", costOf(c.hash), cfg.Verifiers, cfg.VerifyQueue, c.want, 8*c.want)
		}
	}
	if n := (Config{}).withDefaults().Verifiers; n != min(cpus, 2) {
		t.Errorf("without principals (unknown ids cost the default argon2id): %d verifiers", n)
	}
}

// Failures of an IPv6 host count by its /64; an IPv4-mapped address as IPv4.
func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":                 "192.0.2.1",
		"::ffff:192.0.2.1":          "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1%eth0": "2001:db8:1:2::/64",
		"not an address":            "not an address",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// The failure budgets and the remembered pairs stay within their bounds
// however many addresses and ids come.
func TestLimiterTablesAreBounded(t *testing.T) {
	b := newBuckets(10, 10, 100)
	k := newKnownPairs(100)
	now := time.Now()
	for i := range 10_000 {
		b.take(fmt.Sprint("addr", i), now)
		k.add(fmt.Sprint("pair", i), now)
	}
	if len(b.m) > 100 || len(k.cur)+len(k.old) > 100 {
		t.Fatalf("%d budgets, %d pairs; want at most 100 each", len(b.m), len(k.cur)+len(k.old))
	}
	if k9 := b.m["addr9999"]; k9 == nil || k9.tokens != 9 || !k.has("pair9999", now) || k.has("pair9999", now.Add(knownFor)) {
		t.Fatal("the newest entries were dropped, or a pair outlived knownFor")
	}
}

// Seen in the end-to-end tests: fifty parallel requests with the right
// secret from one address, before it was remembered, each took a failure
// from the address's budget before hashing, and thirty got 429. The same
// presentation from the same address at once is authenticated once.
func TestSamePresentationIsAuthenticatedOnce(t *testing.T) {
	s := mustStore(t, Config{FailuresPerMinute: 1, FailureBurst: 1, Credentials: []Credential{client("c", cheapHash(t, "right"))}})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			if _, err := s.Authenticate(KindClient, "192.0.2.1", BasicCandidates("c", "right")...); err != nil {
				t.Errorf("attempt %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := s.stats.hashes.Load(); n != 1 {
		t.Fatalf("%d hashes, want 1", n)
	}
}
