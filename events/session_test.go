package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionRuleNeedsRealmAndSessionOnly(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	ok := Rule{Scope: ScopeSession, Realm: "acme", Session: "3f1c-sid"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a session rule: %v", err)
	}
	for name, r := range map[string]Rule{
		"no realm":            {Scope: ScopeSession, Session: "s"},
		"no session":          {Scope: ScopeSession, Realm: "r"},
		"with a user":         {Scope: ScopeSession, Realm: "r", Session: "s", User: "u"},
		"realm with session":  {Scope: ScopeRealm, Realm: "r", Session: "s"},
		"user with a session": {Scope: ScopeRealmUser, Realm: "r", User: "u", Session: "s"},
	} {
		if err := r.Validate(); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: %v", name, err)
		}
	}
	ev := NewRuleAt(ok, exp.Add(-2*time.Hour), exp.Add(-time.Hour), time.Hour)
	ev.Session = strings.Repeat("s", MaxNameLen+1)
	if ev.Validate() == nil {
		t.Error("a session id longer than MaxNameLen is accepted")
	}
}

// The session is hashed into the key only when set: the keys (and so the
// subjects and ledger marks) of the scopes that existed before are the
// ones they always had.
func TestRuleKeysOfOlderScopesAreUnchanged(t *testing.T) {
	r := Rule{Scope: ScopeRealmUser, Realm: "saml1", User: "alice"}
	if got, again := r.Key(), (Rule{Scope: ScopeRealmUser, Realm: "saml1", User: "alice", Session: ""}).Key(); got != again {
		t.Fatal("an empty session changes the key")
	}
	a := Rule{Scope: ScopeSession, Realm: "r", Session: "s1"}
	b := Rule{Scope: ScopeSession, Realm: "r", Session: "s2"}
	if a.Key() == b.Key() || a.Key() == (Rule{Scope: ScopeSession, Realm: "rs", Session: "1"}).Key() {
		t.Fatal("session keys collide")
	}
	subj := a.Subject()
	if strings.Contains(subj, "s1") || len(strings.Split(subj, ".")) != 5 {
		t.Fatalf("subject %q carries the session id", subj)
	}
	if s := a.String(); strings.Contains(s, "s1") || !strings.Contains(s, "session=") {
		t.Fatalf("String %q names the session id", s)
	}
}

// The mechanism by which a sidecar of an older revocast refuses a scope it
// does not know: Decode fails (the subscriber then counts the event as
// undecodable and fails closed). This version refuses a made-up scope the
// same way an older one refuses ScopeSession.
func TestUnknownScopeIsRefusedNotMisread(t *testing.T) {
	raw := `{"v":2,"kind":"rule","scope":"device","realm":"r","session":"s","issued_before":"2030-01-01T00:00:00Z","expires_at":"2030-01-02T00:00:00Z"}`
	if _, err := Decode([]byte(raw)); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("Decode of an unknown scope: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	ev := NewRuleAt(Rule{Scope: ScopeSession, Realm: "r", Session: "s"}, now.Add(-time.Minute), now, time.Hour)
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || got.Rule() != ev.Rule() || !got.IssuedBefore.Equal(now.Add(-time.Minute)) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}

func TestLedgerBookkeepingIsNotCounted(t *testing.T) {
	for subj, counted := range map[string]bool{
		LedgerSubject(TokenKey("a")):                                 true,
		LedgerRuleSubject(Rule{Scope: ScopeRealm, Realm: "r"}.Key()): true,
		LedgerProbeSubject("front1"):                                 false,
		LedgerSeenSubject(TokenKey("set")):                           false,
		LedgerLeaseSubject("poll keycloak"):                          false,
	} {
		if IsLedgerCounted(subj) != counted {
			t.Errorf("%s: counted=%t", subj, !counted)
		}
		if !strings.HasPrefix(subj, "revocast.ledger.") || strings.ContainsAny(subj, " *>") {
			t.Errorf("%s is not a plain ledger subject", subj)
		}
	}
}
