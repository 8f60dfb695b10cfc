package publisher

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher/auth"
)

func TestSessionRequestIsOneSessionRuleInItsRealm(t *testing.T) {
	st := &memStore{}
	c := newCore(st)
	acme := auth.NewPrincipal(auth.KindClient, "kc", []string{"*"}, []string{"acme"})
	res, err := c.Revoke(context.Background(), Request{Op: auth.OpRevocations, Principal: acme, Realm: "acme", Session: "sid-1"})
	if err != nil || res.Invalidated != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	evs := eventsOf(t, st)
	if len(evs) != 1 || evs[0].Rule() != (events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-1"}) {
		t.Fatalf("events %+v", evs)
	}
	if _, err := c.Revoke(context.Background(), Request{Op: auth.OpRevocations, Principal: acme, Realm: "other", Session: "s"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another realm's session: %v", err)
	}
	for name, req := range map[string]Request{
		"no realm":        {Session: "s"},
		"with a user":     {Realm: "r", User: "u", Session: "s"},
		"with a JWT ID":   {Realm: "r", Session: "s", JWTID: &JWTID{Issuer: "i", ID: "j"}},
		"bad idempotency": {Realm: "r", IdempotencyKey: "a.b"},
	} {
		if err := req.Validate(); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Without RuleMarks, which say what the stream holds, a rule is never
// dated back.
func TestIssuedBeforeNeedsRuleMarks(t *testing.T) {
	st := &memStore{}
	c := newCore(st)
	back := time.Now().Add(-time.Hour)
	if _, err := c.Revoke(context.Background(), Request{Op: auth.OpRevocations, Principal: auth.Superuser(auth.KindClient, "a"),
		Realm: "r", User: "u", IssuedBefore: back}); err != nil {
		t.Fatal(err)
	}
	if ev := eventsOf(t, st)[0]; ev.IssuedBefore.Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("dated back to %v without RuleMarks", ev.IssuedBefore)
	}
}

// lastRule reads the rule a replaying sidecar would see for r.
func lastRule(t *testing.T, js jetstream.JetStream, r events.Rule) events.Event {
	t.Helper()
	st, err := js.Stream(context.Background(), events.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(context.Background(), r.Subject())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// Seen: a signal dated before a rule stored earlier for the same scope
// replaced it in the stream, so a sidecar replaying after a restart honoured
// only the older time. A rule is dated back only as far as the scope's last
// mark, and delivering a request twice under one idempotency key stores
// its events once.
func TestDatedBackRuleNeverReplacesANewerOne(t *testing.T) {
	s := natstest.Start(t)
	nc := natstest.Connect(t, s)
	js, _ := jetstream.New(nc)
	st := newStore(t, nc, 5*time.Second)
	c := NewCore(Config{RuleMarks: NewLedgerReader(js, events.StreamOptions{}.LedgerName())}, st, nil, zerolog.Nop(), nil)
	ctx := context.Background()
	admin := auth.Superuser(auth.KindClient, "a")
	r := events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "alice"}

	twoHours := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	if _, err := c.Revoke(ctx, Request{Op: auth.OpRevocations, Principal: admin, Realm: "acme", User: "alice", IssuedBefore: twoHours}); err != nil {
		t.Fatal(err)
	}
	if got := lastRule(t, js, r).IssuedBefore; !got.Equal(twoHours) {
		t.Fatalf("the first rule of the scope is dated %v, want its signal's %v", got, twoHours)
	}
	newer := time.Now().Truncate(time.Second)
	if _, err := c.Revoke(ctx, Request{Op: auth.OpRevocations, Principal: admin, Realm: "acme", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Revoke(ctx, Request{Op: auth.OpRevocations, Principal: admin, Realm: "acme", User: "alice",
		IssuedBefore: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := lastRule(t, js, r).IssuedBefore; got.Before(newer) {
		t.Fatalf("a signal an hour old replaced the newer rule: the stream says %v, the newer rule was %v", got, newer)
	}

	stream, _ := js.Stream(ctx, events.DefaultStreamName)
	before, _ := stream.Info(ctx)
	for i := 0; i < 2; i++ {
		if _, err := c.Revoke(ctx, Request{Op: auth.OpRevocations, Principal: admin, Realm: "acme", Session: "sid-9",
			IdempotencyKey: "set-abc"}); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := stream.Info(ctx)
	if after.State.LastSeq != before.State.LastSeq+1 {
		t.Fatalf("two deliveries under one idempotency key stored %d messages, want 1", after.State.LastSeq-before.State.LastSeq)
	}
}
