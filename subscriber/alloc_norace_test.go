//go:build !race

// Tests the race detector cannot run (it makes sync.Pool drop items, and
// slows bulk work tenfold); make test runs them in a second pass without it.

package subscriber

import "testing"

func TestCheckDoesNotAllocate(t *testing.T) {
	s := fuzzSubscriber(t)
	tok := "an-opaque-token-of-reasonable-length-0123456789"
	if n := testing.AllocsPerRun(1000, func() { s.Check(tok) }); n != 0 {
		t.Fatalf("Check of an opaque token allocates %v times", n)
	}
}
