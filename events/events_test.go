package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeRefusesNewerSchema(t *testing.T) {
	_, err := Decode([]byte(`{"v":3,"kind":"token","token_sha256":"` + TokenKey("a").String() + `","expires_at":"2030-01-01T00:00:00Z"}`))
	if !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("Decode of v3 = %v, want ErrUnsupportedVersion", err)
	}
}

func TestDecodeRoundTripAndUnknownFields(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	ev := NewRule(Rule{Scope: ScopeConsent, Realm: "r", User: "u", Client: "c"}, now, time.Hour)
	ev.RequestID, ev.Origin = "req", "origin"
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `{"v":2,`, `{"v":2,"added_later":true,`, 1))
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rule() != ev.Rule() || !got.IssuedBefore.Equal(now) || got.RequestID != "req" || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("round trip: %+v, want %+v", got, ev)
	}
}

func TestValidateRejectsBadEvents(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	for name, ev := range map[string]Event{
		"no version":        {Kind: KindToken, Token: TokenKey("a"), ExpiresAt: exp},
		"no token":          {Version: 1, Kind: KindToken, ExpiresAt: exp},
		"no expiry":         {Version: 1, Kind: KindToken, Token: TokenKey("a")},
		"unknown kind":      {Version: 1, Kind: "x", ExpiresAt: exp},
		"rule without time": {Version: 1, Kind: KindRule, Scope: ScopeRealm, Realm: "r", ExpiresAt: exp},
		"realm rule with a user": {Version: 1, Kind: KindRule, Scope: ScopeRealm, Realm: "r", User: "u",
			IssuedBefore: exp, ExpiresAt: exp},
		"consent without client": {Version: 1, Kind: KindRule, Scope: ScopeConsent, Realm: "r", User: "u",
			IssuedBefore: exp, ExpiresAt: exp},
		"huge name": {Version: 1, Kind: KindRule, Scope: ScopeRealm, Realm: strings.Repeat("r", MaxNameLen+1),
			IssuedBefore: exp, ExpiresAt: exp},
	} {
		if err := ev.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRuleKeysAreDistinctAndSubjectsSafe(t *testing.T) {
	a := Rule{Scope: ScopeRealmUser, Realm: "ab", User: "c"}
	b := Rule{Scope: ScopeRealmUser, Realm: "a", User: "bc"}
	if a.Key() == b.Key() {
		t.Fatal("field boundaries do not separate keys")
	}
	for _, r := range []Rule{a, {Scope: ScopeUser, User: "evil.user.>"}, {Scope: ScopeRealm, Realm: "*"}} {
		subj := r.Subject()
		tokens := strings.Split(subj, ".")
		if len(tokens) != 5 || strings.ContainsAny(tokens[4], "*> ") {
			t.Errorf("subject %q carries more than the hashed scope", subj)
		}
	}
}

func TestParseSumNeverEchoesInput(t *testing.T) {
	const secret = "a-raw-token-passed-by-mistake"
	_, err := ParseSum(secret)
	if !errors.Is(err, ErrBadHash) || strings.Contains(err.Error(), secret) {
		t.Fatalf("ParseSum error = %v", err)
	}
	upper := strings.ToUpper(TokenKey("x").String())
	if s, err := ParseSum(upper); err != nil || s != TokenKey("x") {
		t.Fatalf("upper-case hex: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"abc", "A-b_9"} {
		if ValidID(ok) != nil {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", strings.Repeat("x", 65)} {
		if ValidID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
