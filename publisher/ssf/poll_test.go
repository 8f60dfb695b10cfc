package ssf

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/internal/ssftest"
)

// startPollers runs a receiver's pollers until the test ends (or stop).
func startPollers(t *testing.T, r *Receiver) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.RunPollers(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// newPolled builds a receiver polling e's transmitter, as another front
// (origin) would.
func newPolled(t *testing.T, e *env, origin string) *Receiver {
	t.Helper()
	t.Setenv("REVOCAST_TEST_POLL_TOKEN", e.tr.PollToken)
	o := e.opts
	o.Metrics, o.Origin = nil, origin
	tc := o.Transmitters[0]
	tc.Push = nil
	tc.Poll = &PollConfig{URL: e.tr.PollURL(), BearerTokenEnv: "REVOCAST_TEST_POLL_TOKEN", MaxEvents: 2, Timeout: 5 * time.Second}
	o.Transmitters = []TransmitterConfig{tc}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The poller asks for maxEvents with a long poll, acknowledges a SET only
// once what it implies is stored, and reports refused ones in setErrs.
func TestPollAcknowledgesStoredAndReportsRefused(t *testing.T) {
	e := newEnv(t)
	r := newPolled(t, e, "front-1")
	tr := e.tr
	good1, s1 := tr.SET(ssftest.CredentialChange, nil, issSub("u1"))
	good2, s2 := tr.SET(ssftest.SessionRevoked, nil, map[string]any{"format": "complex",
		"session": map[string]any{"format": "opaque", "id": "sid-p"}})
	badAud, s3 := tr.SET(ssftest.CredentialChange, nil, issSub("u2"), func(c ssftest.Claims) { c["aud"] = "someone-else" })
	unmappable, s4 := tr.SET("https://schemas.openid.net/secevent/caep/event-type/device-compliance-change", nil, issSub("u3"))
	tr.Enqueue(s1, s2, s3, s4)
	tr.EnqueueAs("wrong-key", s1) // delivered under a key that is not its jti
	startPollers(t, r)
	natstest.Eventually(t, 15*time.Second, "every SET acknowledged or reported", func() bool { return len(tr.Pending()) == 0 })
	acked, errs := tr.Acked(), tr.SetErrs()
	if acked[good1] != 1 || acked[good2] != 1 || len(acked) != 2 {
		t.Errorf("acknowledged %v", acked)
	}
	for jti, want := range map[string]string{badAud: `"err":"invalid_audience"`, unmappable: `"err":"invalid_request"`,
		"wrong-key": "not the key it was delivered under"} {
		if !strings.Contains(errs[jti], want) {
			t.Errorf("setErrs[%s] = %s, want %s", jti, errs[jti], want)
		}
	}
	for _, req := range tr.Requests() {
		if req.MaxEvents == nil || *req.MaxEvents != 2 || req.ReturnImmediately == nil || *req.ReturnImmediately {
			t.Fatalf("a poll request that is not a long poll for maxEvents 2: %+v", req)
		}
	}
	if _, ok := e.last(events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "u1"}.Subject()); !ok {
		t.Error("credential-change not stored")
	}
	if _, ok := e.last(events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-p"}.Subject()); !ok {
		t.Error("session-revoked not stored")
	}
}

// A front stored a SET and died before acknowledging it: the transmitter
// delivers it again to whoever polls next, which acknowledges it without
// storing anything again.
func TestPollAfterACrashDoesNotApplyTwice(t *testing.T) {
	e := newEnv(t)
	jti, set := e.tr.SET(ssftest.AccountDisabled, nil, issSub("u9"))
	dead := newPolled(t, e, "dead-front")
	if _, err := dead.apply(t.Context(), dead.byName["idp"], set, "poll"); err != nil {
		t.Fatal(err)
	}
	before := e.seqs()
	e.tr.Enqueue(set)
	r := newPolled(t, e, "next-front")
	startPollers(t, r)
	natstest.Eventually(t, 15*time.Second, "the redelivered SET acknowledged", func() bool { return e.tr.Acked()[jti] == 1 })
	after := e.seqs()
	if after[0] != before[0] {
		t.Fatalf("the redelivered SET was stored again: revocation stream %d → %d", before[0], after[0])
	}
	if n := testutil.ToFloat64(r.m.signals.WithLabelValues("idp", "poll", "replayed")); n != 1 {
		t.Fatalf("replayed %v", n)
	}
}

// Two fronts poll one transmitter: one at a time. When the one polling
// stops, the other takes over and SETs keep flowing.
func TestOneFrontPollsATransmitterAtATime(t *testing.T) {
	e := newEnv(t)
	a, b := newPolled(t, e, "front-a"), newPolled(t, e, "front-b")
	held := func(r *Receiver) bool { return testutil.ToFloat64(r.m.leader.WithLabelValues("idp")) == 1 }
	var both atomic.Bool
	watch, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for watch.Err() == nil {
			if held(a) && held(b) {
				both.Store(true)
			}
			select {
			case <-watch.Done():
			case <-time.After(time.Millisecond):
			}
		}
	}()
	stopA := startPollers(t, a)
	stopB := startPollers(t, b)
	natstest.Eventually(t, 10*time.Second, "a leader", func() bool { return held(a) || held(b) })
	first, stopFirst, second := a, stopA, b
	if held(b) {
		first, stopFirst, second = b, stopB, a
	}
	j1, s1 := e.tr.SET(ssftest.CredentialChange, nil, issSub("x1"))
	e.tr.Enqueue(s1)
	natstest.Eventually(t, 10*time.Second, "the first SET acknowledged", func() bool { return e.tr.Acked()[j1] == 1 })
	stopFirst()
	natstest.Eventually(t, 10*time.Second, "the other front takes over", func() bool { return held(second) })
	_ = first
	j2, s2 := e.tr.SET(ssftest.CredentialChange, nil, issSub("x2"))
	e.tr.Enqueue(s2)
	natstest.Eventually(t, 10*time.Second, "the second SET acknowledged", func() bool { return e.tr.Acked()[j2] == 1 })
	stopWatch()
	<-watched
	if both.Load() {
		t.Fatal("both fronts held the lease at once")
	}
	if got := e.tr.Acked(); !slices.Equal([]int{got[j1], got[j2]}, []int{1, 1}) {
		t.Fatalf("acknowledged %v", got)
	}
}
