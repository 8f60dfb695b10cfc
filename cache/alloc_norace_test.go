//go:build !race

// Tests the race detector cannot run (it makes sync.Pool drop items, and
// slows bulk work tenfold); make test runs them in a second pass without it.

package cache

import (
	"context"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

func TestContainsDoesNotAllocate(t *testing.T) {
	c := newCache(t, 1000)
	s := sumOf(3)
	c.Add(context.Background(), []Entry{{Sum: s, ExpiresAt: time.Now().Add(time.Hour)}})
	miss := sumOf(4)
	if n := testing.AllocsPerRun(1000, func() { c.Contains(s); c.Contains(miss) }); n != 0 {
		t.Fatalf("Contains allocates %v times per run", n)
	}
}

func TestMatchSessionDoesNotAllocate(t *testing.T) {
	rs := NewRules()
	rs.Add(events.Rule{Scope: events.ScopeSession, Realm: "r", Session: "s"}, time.Now(), time.Now().Add(time.Hour))
	iat := time.Now().Add(-time.Minute)
	if n := testing.AllocsPerRun(1000, func() {
		rs.MatchSession("r", "s", iat)
		rs.MatchSession("r", "other", iat)
		rs.Match("r", "u", "c", iat)
	}); n != 0 {
		t.Fatalf("rule matching allocates %v times per run", n)
	}
}
