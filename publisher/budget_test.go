package publisher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher/auth"
)

// followBudget starts a budget counting the ledger of the server behind st's
// connection and waits until it has counted.
func followBudget(t *testing.T, js jetstream.JetStream, q Quotas, loads func() []SidecarLoad) *Budget {
	t.Helper()
	b := NewBudget(q, loads)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Follow(ctx, js, events.StreamOptions{}.LedgerName(), zerolog.Nop()) }()
	t.Cleanup(func() { cancel(); <-done })
	natstest.Eventually(t, 5*time.Second, "the ledger counted", b.Ready)
	return b
}

func revokeTokens(core *Core, p *auth.Principal, realm string, from, n int) (Result, error) {
	var last Result
	for i := from; i < from+n; i++ {
		res, err := core.Revoke(context.Background(), Request{Op: auth.OpOAM, Principal: p, Realm: realm,
			Token: refOf(fmt.Sprintf("%s-token-%d", realm, i))})
		if err != nil {
			return res, err
		}
		last = res
	}
	return last, nil
}

// Per-realm quotas and live sidecars' capacities are enforced by the front
// from the ledger stream: a request past either is refused before anything
// is stored, naming the limit, and another realm keeps its share; a new
// front counts the same from the stream.
func TestBudgetQuotasAndSidecarCapacity(t *testing.T) {
	ns := natstest.Start(t)
	nc := natstest.Connect(t, ns)
	st := newStore(t, nc, 5*time.Second)
	js, _ := jetstream.New(nc)
	var capacity atomic.Int64
	loads := func() []SidecarLoad {
		return []SidecarLoad{{ID: "side-1", Capacity: capacity.Load(), Entries: 0}}
	}
	b := followBudget(t, js, Quotas{PerRealm: map[string]int64{"A": 10}, Default: 1000}, loads)
	core := NewCore(Config{Budget: b}, st, nil, zerolog.Nop(), nil)
	su := auth.Superuser(auth.KindClient, "admin")

	if _, err := revokeTokens(core, su, "A", 0, 10); err != nil {
		t.Fatalf("ten revocations in a realm of quota 10: %v", err)
	}
	_, err := revokeTokens(core, su, "A", 10, 1)
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, ErrOverBudget) || be.Realm != "A" || be.Limit != 10 || be.Live != 10 ||
		!strings.Contains(err.Error(), "issued-before rule") {
		t.Fatalf("the 11th revocation in realm A: %v", err)
	}
	// An issued-before rule is an entry too.
	if _, err := core.Revoke(context.Background(), Request{Op: auth.OpElasticsearch, Principal: su, Realm: "A"}); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("a rule in a full realm: %v", err)
	}
	if _, err := revokeTokens(core, su, "B", 0, 20); err != nil {
		t.Fatalf("realm B keeps its share: %v", err)
	}

	// A live sidecar's capacity bounds every realm together.
	capacity.Store(35)
	if _, err := revokeTokens(core, su, "B", 20, 5); err != nil {
		t.Fatalf("up to the capacity: %v", err)
	}
	_, err = revokeTokens(core, su, "C", 0, 1)
	if !errors.As(err, &be) || be.Sidecar != "side-1" || be.Limit != 35 || be.Live != 35 {
		t.Fatalf("past a sidecar's capacity: %v", err)
	}
	// A token already revoked adds nothing in the stream; it is still
	// refused up front, since whether it was revoked is decided by the store.

	// A restarted front counts the same from the stream.
	b2 := followBudget(t, js, Quotas{}, nil)
	if tokens, rules := b2.Live(); tokens != 35 || rules != 0 {
		t.Fatalf("a new front counts %d tokens and %d rules, want 35 and 0", tokens, rules)
	}
}

// Marks leave the count when their TTL passes, as they leave the stream.
func TestBudgetForgetsExpiredMarks(t *testing.T) {
	ns := natstest.Start(t)
	nc := natstest.Connect(t, ns)
	st := newStore(t, nc, 5*time.Second)
	js, _ := jetstream.New(nc)
	b := followBudget(t, js, Quotas{Default: 1}, nil)
	core := NewCore(Config{Budget: b}, st, nil, zerolog.Nop(), nil)
	su := auth.Superuser(auth.KindClient, "admin")
	soon := time.Now().Add(1500 * time.Millisecond).Unix()
	if _, err := core.Revoke(context.Background(), Request{Op: auth.OpOAM, Principal: su, Realm: "A",
		Token: refOf(jwt(fmt.Sprintf(`{"sub":"x","exp":%d}`, soon-int64(ExpiryLeeway/time.Second))))}); err != nil {
		t.Fatal(err)
	}
	if _, err := revokeTokens(core, su, "A", 0, 1); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("quota of 1 with one live: %v", err)
	}
	natstest.Eventually(t, 5*time.Second, "the mark to be counted", func() bool {
		tokens, _ := b.Live()
		return tokens == 1
	})
	natstest.Eventually(t, 5*time.Second, "the expired mark to leave the count", func() bool {
		tokens, _ := b.Live()
		return tokens == 0
	})
	if _, err := revokeTokens(core, su, "A", 0, 1); err != nil {
		t.Fatalf("after the expiry: %v", err)
	}
}
