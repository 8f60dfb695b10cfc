package ssf

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/ssftest"
)

// A logout token with sid ends that session; with sub alone, the user's
// tokens issued before it. 200 either way; a replay is 200 and stores
// nothing.
func TestBackchannelLogout(t *testing.T) {
	e := newEnv(t)
	iat := time.Now().Add(-time.Minute).Truncate(time.Second)
	at := func(c ssftest.Claims) { c["iat"] = iat.Unix() }
	tok := e.tr.LogoutToken(logoutAud, "sid-7", "f81d", at)
	if a := e.logout(tok); a.code != 200 || a.body != "" {
		t.Fatalf("sid: %d %s", a.code, a.body)
	}
	ev, ok := e.last(events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-7"}.Subject())
	if !ok || !ev.IssuedBefore.Equal(iat) {
		t.Fatalf("session rule %+v %v", ev, ok)
	}
	if _, ok := e.last(events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "f81d"}.Subject()); ok {
		t.Fatal("a logout with sid revoked the whole user")
	}
	before := e.seqs()
	if a := e.logout(tok); a.code != 200 {
		t.Fatalf("replay: %d %s", a.code, a.body)
	}
	if e.seqs() != before {
		t.Fatal("a replayed logout token stored something")
	}
	if a := e.logout(e.tr.LogoutToken(logoutAud, "", "f81d", at)); a.code != 200 {
		t.Fatalf("sub: %d %s", a.code, a.body)
	}
	if ev, ok := e.last(events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "f81d"}.Subject()); !ok || !ev.IssuedBefore.Equal(iat) {
		t.Fatalf("user rule %+v %v", ev, ok)
	}
}

// Everything Back-Channel Logout 1.0 section 2.6 says to refuse is 400
// invalid_request and stores nothing.
func TestBackchannelLogoutRefusals(t *testing.T) {
	e := newEnv(t)
	tr := e.tr
	set := func(k string, v any) func(ssftest.Claims) { return func(c ssftest.Claims) { c[k] = v } }
	del := func(k string) func(ssftest.Claims) { return func(c ssftest.Claims) { delete(c, k) } }
	good := tr.LogoutToken(logoutAud, "s", "")
	p := strings.Split(good, ".")
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + p[1] + "."
	cases := map[string]struct{ body, want string }{
		"nonce":         {form(tr.LogoutToken(logoutAud, "s", "", set("nonce", "n"))), "nonce"},
		"no events":     {form(tr.LogoutToken(logoutAud, "s", "", del("events"))), "events"},
		"another event": {form(tr.LogoutToken(logoutAud, "s", "", set("events", map[string]any{"urn:other": map[string]any{}}))), "events"},
		"event not an object": {form(tr.LogoutToken(logoutAud, "s", "", set("events",
			map[string]any{ssftest.BackchannelLogout: "yes"}))), "events"},
		"neither sid nor sub": {form(tr.LogoutToken(logoutAud, "", "")), "sid, sub"},
		"no jti":              {form(tr.LogoutToken(logoutAud, "s", "", del("jti"))), "jti"},
		"no iat":              {form(tr.LogoutToken(logoutAud, "s", "", del("iat"))), "iat"},
		"expired":             {form(tr.LogoutToken(logoutAud, "s", "", set("exp", time.Now().Add(-time.Hour).Unix()))), "expired"},
		"wrong aud":           {form(tr.LogoutToken("another-client", "s", "")), "aud"},
		"unknown issuer":      {form(tr.LogoutToken(logoutAud, "s", "", set("iss", "https://evil.test"))), "iss"},
		"alg none":            {form(unsigned), "alg none"},
		"bad signature":       {form(p[0] + "." + p[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))), "does not verify"},
		"an ID token's typ":   {form(tr.Sign(ssftest.Claims{"iss": issuer}, "secevent+jwt")), "typ"},
		"two tokens":          {url.Values{"logout_token": {good, good}}.Encode(), "exactly one"},
		"no token":            {"", "exactly one"},
	}
	before := e.seqs()
	for name, c := range cases {
		a := e.post(LogoutRoute, c.body, "Content-Type", "application/x-www-form-urlencoded")
		if a.code != 400 || !strings.HasPrefix(a.body, `{"error":"invalid_request","error_description":`) || !strings.Contains(a.body, c.want) {
			t.Errorf("%s: %d %s, want 400 invalid_request mentioning %q", name, a.code, a.body, c.want)
		}
	}
	if a := e.post(LogoutRoute, form(good), "Content-Type", "application/json"); a.code != 400 {
		t.Errorf("JSON content type: %d", a.code)
	}
	if e.seqs() != before {
		t.Fatal("a refused logout token stored something")
	}
}

func form(tok string) string { return url.Values{"logout_token": {tok}}.Encode() }
