//go:build !race

// Tests the race detector cannot run (it makes sync.Pool drop items, and
// slows bulk work tenfold); make test runs them in a second pass without it.

package registry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
)

func TestRegisterHundredThousand(t *testing.T) {
	s, err := ensureOpen(natstest.Connect(t, natstest.Start(t)), StoreOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const n = 100_000
	recs := make([]publisher.Record, n)
	for i := range recs {
		recs[i] = rec(fmt.Sprint("tok-", i), events.AccessToken, "saml1", fmt.Sprint("user-", i%10), "app", "", time.Hour)
	}
	start := time.Now()
	mustRegister(t, s, recs...)
	took := time.Since(start)
	t.Logf("registered %d tokens in %v (%.0f tokens/s)", n, took, n/took.Seconds())
	start = time.Now()
	found, err := s.Find(context.Background(), publisher.Scope{Realm: "saml1", User: "user-3"})
	if err != nil || len(found) != n/10 {
		t.Fatalf("Find: %d, %v", len(found), err)
	}
	t.Logf("found %d tokens of one user in %v", len(found), time.Since(start))
}
