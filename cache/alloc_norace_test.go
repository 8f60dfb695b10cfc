//go:build !race

// Tests the race detector cannot run (it makes sync.Pool drop items, and
// slows bulk work tenfold); make test runs them in a second pass without it.

package cache

import (
	"context"
	"testing"
	"time"
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
