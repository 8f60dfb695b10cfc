package subscriber

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwttest"
	"github.com/revocast/revocast/internal/natstest"
)

// A session rule denies the JWTs of that session issued at or before it,
// and not the user's other sessions nor the same sid of another realm.
func TestSessionRuleDeniesOnlyItsSession(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{IssuerRealms: map[string]string{"https://kc/realms/acme": "acme"}}, nil)
	waitReady(t, s)
	key := jwttest.Key(t)
	at := time.Now().Truncate(time.Second)
	tok := func(iss, sid string, iat time.Time) string {
		return jwttest.ES256(t, key, jwt.MapClaims{"iss": iss, "sub": "f81d", "sid": sid, "iat": iat.Unix()})
	}
	before := tok("https://kc/realms/acme", "sid-1", at.Add(-time.Minute))
	other := tok("https://kc/realms/acme", "sid-2", at.Add(-time.Minute))
	later := tok("https://kc/realms/acme", "sid-1", at.Add(2*time.Second))
	elsewhere := tok("https://other", "sid-1", at.Add(-time.Minute))
	e.append(t, events.NewRuleAt(events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-1"}, at, at, time.Hour))
	natstest.Eventually(t, 5*time.Second, "the session rule applied", func() bool { return s.Check(before).Verdict == Revoked })
	if d := s.Check(before); d.Reason != "rule:session" {
		t.Fatalf("reason %q", d.Reason)
	}
	for name, tk := range map[string]string{"another session": other, "issued after": later, "another realm": elsewhere} {
		if d := s.Check(tk); d.Verdict != Allowed {
			t.Errorf("%s: %+v", name, d)
		}
	}
	// POST /v1/check with explicit claims, sid included.
	h := s.Handler(nil)
	for body, want := range map[string]string{
		fmt.Sprintf(`{"token":"opaque","claims":{"iss":"https://kc/realms/acme","sid":"sid-1","iat":%d}}`, at.Unix()-60): `"reason":"rule:session"`,
		fmt.Sprintf(`{"token":"opaque","claims":{"realm":"acme","sid":"sid-2","iat":%d}}`, at.Unix()-60):                 `"revoked":false`,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/check", strings.NewReader(body)))
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
}

// A realm whose users are named by email: a user rule naming the email
// denies the tokens carrying it, whatever their sub; realms without a
// user_claim still match sub.
func TestUserClaimNamesTheUserForRules(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{IssuerRealms: map[string]string{"https://kc/realms/acme": "acme"},
		UserClaims: map[string]string{"acme": "email"}}, nil)
	waitReady(t, s)
	key := jwttest.Key(t)
	iat := time.Now().Add(-time.Minute).Unix()
	alice := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://kc/realms/acme", "sub": "f81d", "email": "alice@example.com", "iat": iat})
	bob := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://kc/realms/acme", "sub": "alice@example.com", "email": "bob@example.com", "iat": iat})
	plain := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://plain", "sub": "alice@example.com", "iat": iat})
	now := time.Now()
	e.append(t, events.NewRule(events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "alice@example.com"}, now, time.Hour))
	e.append(t, events.NewRule(events.Rule{Scope: events.ScopeRealmUser, Realm: "https://plain", User: "alice@example.com"}, now, time.Hour))
	natstest.Eventually(t, 5*time.Second, "the rules applied", func() bool { return s.Check(alice).Verdict == Revoked })
	if d := s.Check(bob); d.Verdict != Allowed {
		t.Errorf("a token whose sub (not email) is the rule's user: %+v", d)
	}
	if d := s.Check(plain); d.Verdict != Revoked {
		t.Errorf("a realm without user_claim matches sub: %+v", d)
	}
	w := httptest.NewRecorder()
	s.Handler(nil).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/check",
		strings.NewReader(fmt.Sprintf(`{"token":"x","claims":{"realm":"acme","user":"alice@example.com","iat":%d}}`, iat))))
	if !strings.Contains(w.Body.String(), `"revoked":true`) {
		t.Errorf("explicit user claim: %s", w.Body)
	}
}
