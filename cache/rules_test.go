package cache

import (
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

func TestRuleSameSecondDeniedLaterAllowed(t *testing.T) {
	rs := NewRules()
	at := time.Date(2026, 11, 21, 10, 0, 0, 700e6, time.UTC)
	rs.Add(events.Rule{Scope: events.ScopeRealmUser, Realm: "r", User: "u"}, at, time.Now().Add(time.Hour))
	cases := []struct {
		name  string
		iat   time.Time
		realm string
		user  string
		want  bool
	}{
		{"issued before", at.Add(-time.Hour), "r", "u", true},
		{"same second", at.Truncate(time.Second), "r", "u", true},
		{"same second, later fraction", at.Truncate(time.Second).Add(900 * time.Millisecond), "r", "u", true},
		{"next second", at.Truncate(time.Second).Add(time.Second), "r", "u", false},
		{"unknown issue time", time.Time{}, "r", "u", true},
		{"other user", at.Add(-time.Hour), "r", "v", false},
		{"other realm", at.Add(-time.Hour), "q", "u", false},
	}
	for _, c := range cases {
		if _, got := rs.Match(c.realm, c.user, "", c.iat); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRuleScopes(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	now := time.Now()
	old := now.Add(-time.Minute)
	for _, c := range []struct {
		rule                events.Rule
		realm, user, client string
		want                bool
	}{
		{events.Rule{Scope: events.ScopeRealm, Realm: "r"}, "r", "anyone", "c", true},
		{events.Rule{Scope: events.ScopeRealm, Realm: "r"}, "q", "anyone", "c", false},
		{events.Rule{Scope: events.ScopeUser, User: "u"}, "any-realm", "u", "", true},
		{events.Rule{Scope: events.ScopeUser, User: "u"}, "", "u", "", true},
		{events.Rule{Scope: events.ScopeUser, User: "u"}, "r", "v", "", false},
		{events.Rule{Scope: events.ScopeConsent, Realm: "r", User: "u", Client: "c"}, "r", "u", "c", true},
		{events.Rule{Scope: events.ScopeConsent, Realm: "r", User: "u", Client: "c"}, "r", "u", "d", false},
		{events.Rule{Scope: events.ScopeConsent, Realm: "r", User: "u", Client: "c"}, "r", "u", "", false},
	} {
		rs := NewRules()
		rs.Add(c.rule, now, exp)
		got, ok := rs.Match(c.realm, c.user, c.client, old)
		if ok != c.want || (ok && got != c.rule) {
			t.Errorf("rule %v, token %q/%q/%q: Match = %v %v, want %v", c.rule, c.realm, c.user, c.client, got, ok, c.want)
		}
	}
}

func TestRuleKeepsLaterTimeAndPrunes(t *testing.T) {
	rs := NewRules()
	r := events.Rule{Scope: events.ScopeRealm, Realm: "r"}
	t1 := time.Now().Add(-time.Hour)
	t2 := time.Now()
	rs.Add(r, t2, time.Now().Add(time.Hour))
	rs.Add(r, t1, time.Now().Add(30*time.Minute)) // an older rule must not shorten the newer one
	if _, ok := rs.Match("r", "", "", t1.Add(time.Minute)); !ok {
		t.Fatal("the later issued-before time was replaced by an earlier one")
	}
	if n := rs.Prune(time.Now().Add(2 * time.Hour)); n != 1 || rs.Len() != 0 {
		t.Fatalf("Prune removed %d, Len %d", n, rs.Len())
	}
	if _, ok := rs.Match("r", "", "", t1); ok {
		t.Fatal("pruned rule still matches")
	}
}

func TestExpiredRuleDoesNotMatch(t *testing.T) {
	rs := NewRules()
	rs.Add(events.Rule{Scope: events.ScopeRealm, Realm: "r"}, time.Now(), time.Now().Add(-time.Second))
	if _, ok := rs.Match("r", "u", "", time.Now().Add(-time.Hour)); ok {
		t.Fatal("an expired rule matched")
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	rs := NewRules()
	rs.Add(events.Rule{Scope: events.ScopeConsent, Realm: "r", User: "u", Client: "c"}, time.Now(), time.Now().Add(time.Hour))
	iat := time.Now()
	if n := testing.AllocsPerRun(1000, func() { rs.Match("r", "u", "c", iat); rs.Match("q", "v", "d", iat) }); n != 0 {
		t.Fatalf("Match allocates %v times per run", n)
	}
}
