package ssf

import (
	"testing"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/ssftest"
)

// Found in review: every request of one SET was stored under one
// idempotency key, and the core names a rule's message after its scope,
// not its time; so a SET with two events about one user (credential-change
// at t1, account-disabled at t2 > t1) stored the first rule and the second
// was dropped as a duplicate message, answered 202: tokens issued between
// t1 and t2 stayed valid.
func TestTwoEventsAboutOneUserKeepTheLaterRule(t *testing.T) {
	e := newEnv(t)
	t1 := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	t2 := time.Now().Add(-1 * time.Minute).Truncate(time.Second)
	_, set := e.tr.SET(ssftest.CredentialChange, map[string]any{"event_timestamp": t1.Unix()}, issSub("carol"),
		func(c ssftest.Claims) {
			c["events"].(map[string]any)[ssftest.AccountDisabled] = map[string]any{"event_timestamp": t2.Unix()}
		})
	if a := e.push(set); a.code != 202 {
		t.Fatalf("push: %d %s", a.code, a.body)
	}
	ev, ok := e.last(events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "carol"}.Subject())
	if !ok || ev.IssuedBefore.Before(t2) {
		t.Fatalf("the user's rule: %v (found %v), want issued before %v or later", ev.IssuedBefore, ok, t2)
	}
}
