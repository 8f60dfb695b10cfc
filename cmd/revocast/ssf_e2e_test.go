package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/ssftest"
	"github.com/revocast/revocast/publisher/auth"
)

// The real binary, configured from its config file: a pushed SET and a
// back-channel logout token end with the sidecar denying the JWTs they
// name, and the log holds neither signal nor token nor the push secret.
func TestE2ESSFThroughTheBinary(t *testing.T) {
	tr := ssftest.New(t, "https://kc.test/realms/acme", ssfAudience)
	h, err := auth.HashSecret(ssfPushKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "revocast.yaml") // dev adds its admin (REVOCAST_DEV_CLIENT)
	body := fmt.Sprintf(`realms:
  - {name: acme, issuers: [%s]}
transmitters:
  - name: kc
    issuer: %s
    jwks_uri: %s
    audience: %s
    realms: [acme]
    push: {bearer_token_hash: '%s'}
    backchannel_logout: {audiences: [portal]}
`, tr.Issuer, tr.Issuer, tr.JWKSURL(), ssfAudience, h)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, t.TempDir(), nil, "--config", cfg)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	iat := time.Now().Add(-time.Minute)
	alice := accessToken(t, tr.Issuer, "alice", "sid-a", iat)
	bob1 := accessToken(t, tr.Issuer, "bob", "sid-b1", iat)
	bob2 := accessToken(t, tr.Issuer, "bob", "sid-b2", iat)
	for _, tok := range []string{alice, bob1, bob2} {
		if c := check(d.side, tok); c != 204 {
			t.Fatalf("before: %d", c)
		}
	}
	_, set := tr.SET(ssftest.CredentialChange, map[string]any{"event_timestamp": time.Now().Unix()},
		map[string]any{"format": "iss_sub", "iss": tr.Issuer, "sub": "alice"})
	r := httpDo(t, "POST", d.front+"/ssf/events", "application/secevent+jwt", set, "Authorization", "Bearer "+ssfPushKey)
	if r.code != 202 {
		t.Fatalf("push: %d %s", r.code, r.body)
	}
	if c := check(d.side, alice); c != 401 {
		t.Fatalf("alice after credential-change: %d", c)
	}
	if r := httpDo(t, "POST", d.front+"/ssf/events", "application/secevent+jwt", set, "Authorization", "Bearer wrong"); r.code != 401 ||
		!strings.Contains(r.body, `"err":"authentication_failed"`) {
		t.Fatalf("a wrong push token: %d %s", r.code, r.body)
	}
	lt := tr.LogoutToken("portal", "sid-b1", "bob")
	r = httpDo(t, "POST", d.front+"/oidc/backchannel-logout", "application/x-www-form-urlencoded", url.Values{"logout_token": {lt}}.Encode())
	if r.code != 200 {
		t.Fatalf("logout: %d %s", r.code, r.body)
	}
	if c1, c2 := check(d.side, bob1), check(d.side, bob2); c1 != 401 || c2 != 204 {
		t.Fatalf("bob's logged-out session %d, his other session %d", c1, c2)
	}
	d.waitLog("signal", map[string]string{"delivery": "logout", "result": "accepted"}, "jti")
	log := d.log()
	for name, secret := range map[string]string{"the SET": set, "the logout token": lt, "a JWT": alice, "the push token": ssfPushKey,
		"the SET's signature": set[strings.LastIndexByte(set, '.')+1:]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %s", name)
		}
	}
}
