package cache

import (
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

func TestSessionRuleMatchesOnlyItsSession(t *testing.T) {
	rs := NewRules()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	sess := events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-1"}
	rs.Add(sess, at, time.Now().Add(time.Hour))
	for _, c := range []struct {
		name           string
		realm, session string
		iat            time.Time
		want           bool
	}{
		{"its session, issued before", "acme", "sid-1", at.Add(-time.Minute), true},
		{"same second", "acme", "sid-1", at, true},
		{"issued after the rule", "acme", "sid-1", at.Add(time.Second), false},
		{"no iat", "acme", "sid-1", time.Time{}, true},
		{"another session of the user", "acme", "sid-2", at.Add(-time.Minute), false},
		{"the same sid in another realm", "other", "sid-1", at.Add(-time.Minute), false},
		{"no sid", "acme", "", at.Add(-time.Minute), false},
	} {
		got, ok := rs.MatchSession(c.realm, c.session, c.iat)
		if ok != c.want || (ok && got != sess) {
			t.Errorf("%s: MatchSession = %v %v, want %v", c.name, got, ok, c.want)
		}
	}
	// A session rule is no user or realm rule.
	if _, ok := rs.Match("acme", "sid-1", "", at.Add(-time.Minute)); ok {
		t.Error("Match matched a session rule")
	}
	rs.Add(sess, at.Add(time.Hour), time.Now().Add(time.Hour))
	if _, ok := rs.MatchSession("acme", "sid-1", at.Add(time.Minute)); !ok {
		t.Error("a later rule of the session did not keep the later time")
	}
}
