package main

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// tokenLine is one NDJSON registry record.
func tokenLine(tok, typ, realm, user, client, parent string, ttl time.Duration) string {
	p := ""
	if parent != "" {
		p = fmt.Sprintf(`,"parent":%q`, parent)
	}
	return fmt.Sprintf(`{"token":%q,"type":%q,"realm":%q,"username":%q,"client_id":%q,"expires_at":%q%s}`,
		tok, typ, realm, user, client, time.Now().Add(ttl).UTC().Format(time.RFC3339), p)
}

// pairs returns n refresh+access pairs of user in realm through client.
func pairs(prefix, realm, user, client string, n int) (lines, toks []string) {
	for i := 0; i < n; i++ {
		r, a := fmt.Sprintf("%s-r%d", prefix, i), fmt.Sprintf("%s-a%d", prefix, i)
		lines = append(lines, tokenLine(r, "refresh_token", realm, user, client, "", time.Hour),
			tokenLine(a, "access_token", realm, user, client, r, time.Hour))
		toks = append(toks, r, a)
	}
	return lines, toks
}

func register(t *testing.T, front string, lines []string) {
	t.Helper()
	r := httpDo(t, "POST", front+"/v1/tokens", "application/x-ndjson", strings.Join(lines, "\n")+"\n", "Authorization", testBasic)
	if r.code != 200 || r.body != fmt.Sprintf(`{"registered":%d}`+"\n", len(lines)) {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
}

func allDenied(side string, toks []string) bool {
	for _, tok := range toks {
		if check(side, tok) != 401 {
			return false
		}
	}
	return true
}

func TestE2ERegistrySemantics(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })

	t.Run("elasticsearch user in realm counts every token", func(t *testing.T) {
		lines, toks := pairs("es", "saml1", "alice", testID, 5)
		other, otherToks := pairs("esb", "saml1", "bob", testID, 1)
		register(t, d.front, append(lines, other...))
		r := esRevoke(t, d.front, `{"username":"alice","realm_name":"saml1"}`)
		if r.body != fmt.Sprintf(counts, 10, 0, 0) {
			t.Fatalf("first: %s", r.body)
		}
		waitFor(t, "every opaque token of alice denied", func() bool { return allDenied(d.side, toks) })
		if check(d.side, otherToks[0]) != 204 {
			t.Fatal("bob's token was revoked")
		}
		r = esRevoke(t, d.front, `{"username":"alice","realm_name":"saml1"}`)
		if r.body != fmt.Sprintf(counts, 0, 10, 0) {
			t.Fatalf("a second identical request: %s", r.body)
		}
		r = esRevoke(t, d.front, `{"realm_name":"saml1"}`)
		if r.body != fmt.Sprintf(counts, 2, 10, 0) {
			t.Fatalf("the realm afterwards: %s (bob's pair is new, alice's were revoked)", r.body)
		}
	})

	t.Run("OAM RELATED_TOKENS and RELATED_CONSENT", func(t *testing.T) {
		lines, toks := pairs("oam", "DemoDomain", "carol", testID, 2) // oam-r0,a0, oam-r1,a1
		lines = append(lines, tokenLine("oam-x", "access_token", "DemoDomain", "carol", "other-app", "", time.Hour))
		register(t, d.front, lines)
		oam := func(tok, chaining string) response {
			return httpDo(t, "POST", d.front+"/oauth2/rest/token/revoke", "application/x-www-form-urlencoded",
				"token="+url.QueryEscape(tok)+"&chaining_level="+chaining, "Authorization", testBasic, "x-oauth-identity-domain-name", "DemoDomain")
		}
		if r := oam("oam-r0", "RELATED_TOKENS"); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		waitFor(t, "refresh token and its access token denied", func() bool { return allDenied(d.side, toks[:2]) })
		if check(d.side, "oam-a1") != 204 {
			t.Fatal("another grant's access token was revoked")
		}
		if r := oam("oam-a1", "RELATED_TOKENS"); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		waitFor(t, "access token and its refresh token denied", func() bool { return allDenied(d.side, toks[2:]) })
		if r := oam("oam-x", "RELATED_CONSENT"); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		waitFor(t, "the consent's token denied", func() bool { return check(d.side, "oam-x") == 401 })
	})

	t.Run("OneLogin revokes the pair, refuses another client's token", func(t *testing.T) {
		lines, toks := pairs("ol", "saml1", "dave", testID, 1)
		lines = append(lines, tokenLine("ol-foreign", "access_token", "saml1", "dave", "someone-else", "", time.Hour))
		register(t, d.front, lines)
		hdr := "client_id:" + testID + ", client_secret:" + testSecret
		r := httpDo(t, "POST", d.front+"/auth/oauth2/revoke", "application/json", `{"access_token":"ol-a0"}`, "Authorization", hdr)
		if r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		waitFor(t, "access and refresh token denied", func() bool { return allDenied(d.side, toks) })
		r = httpDo(t, "POST", d.front+"/auth/oauth2/revoke", "application/json", `{"access_token":"ol-foreign"}`, "Authorization", hdr)
		if r.code != 401 || r.body != `{"status":{"error":true,"code":401,"type":"Unauthorized","message":"Authentication Failure"}}` {
			t.Fatalf("another client's token: %d %s", r.code, r.body)
		}
		if check(d.side, "ol-foreign") != 204 {
			t.Fatal("another client's token was revoked")
		}
	})

	t.Run("RFC 7009 refresh token takes its grant, another client's token stays", func(t *testing.T) {
		lines, toks := pairs("rfc", "saml1", "erin", testID, 2)
		lines = append(lines, tokenLine("rfc-foreign", "access_token", "saml1", "erin", "someone-else", "", time.Hour))
		register(t, d.front, lines)
		rfc := func(tok string) response {
			return httpDo(t, "POST", d.front+"/oauth2/revoke", "application/x-www-form-urlencoded", "token="+tok, "Authorization", testBasic)
		}
		if r := rfc("rfc-r1"); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		waitFor(t, "the grant denied", func() bool { return allDenied(d.side, toks[2:]) })
		if check(d.side, "rfc-r0") != 204 || check(d.side, "rfc-a0") != 204 {
			t.Fatal("another grant was revoked")
		}
		if r := rfc("rfc-a0"); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		waitFor(t, "the access token denied", func() bool { return check(d.side, "rfc-a0") == 401 })
		if check(d.side, "rfc-r0") != 204 {
			t.Fatal("revoking an access token revoked its refresh token")
		}
		r := rfc("rfc-foreign")
		if r.code != 400 || !strings.Contains(r.body, `"error":"unauthorized_client"`) {
			t.Fatalf("another client's token: %d %s", r.code, r.body)
		}
		if check(d.side, "rfc-foreign") != 204 {
			t.Fatal("another client's token was revoked")
		}
	})

	t.Run("issued-before rules deny JWTs; tokens issued after work; unregistered opaque tokens stay", func(t *testing.T) {
		old := jwtFor(fmt.Sprintf(`{"iss":"saml1","sub":"frank","iat":%d,"exp":%d}`, time.Now().Add(-time.Minute).Unix(), time.Now().Add(time.Hour).Unix()))
		r := esRevoke(t, d.front, `{"username":"frank","realm_name":"saml1"}`)
		if r.code != 200 {
			t.Fatal(r.body)
		}
		waitFor(t, "a JWT issued before the rule denied", func() bool { return check(d.side, old) == 401 })
		newer := jwtFor(fmt.Sprintf(`{"iss":"saml1","sub":"frank","iat":%d,"exp":%d}`, time.Now().Add(2*time.Second).Unix(), time.Now().Add(time.Hour).Unix()))
		if c := check(d.side, newer); c != 204 {
			t.Fatalf("a JWT issued after the rule: %d", c)
		}
		if c := check(d.side, "frank-unregistered-opaque"); c != 204 {
			t.Fatalf("an opaque token the registry never saw: %d (rules cannot see opaque tokens)", c)
		}
	})
}

// Overlapping user and realm revocations running at once never count a token
// twice: the invalidated counts add up to the number of distinct tokens.
func TestE2EOverlappingConcurrentRevocations(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", d.front+"/readyz", "", "").code == 200 })
	var all []string
	for _, u := range []string{"u1", "u2", "u3"} {
		lines, _ := pairs("ov-"+u, "shared", u, testID, 50)
		all = append(all, lines...)
	}
	register(t, d.front, all) // 300 tokens in realm "shared"
	bodies := []string{`{"realm_name":"shared"}`, `{"username":"u1","realm_name":"shared"}`, `{"username":"u2"}`,
		`{"realm_name":"shared"}`, `{"username":"u3","realm_name":"shared"}`, `{"username":"u1"}`}
	var mu sync.Mutex
	total, previously := 0, 0
	var wg sync.WaitGroup
	for _, b := range bodies {
		wg.Add(1)
		go func(b string) {
			defer wg.Done()
			var c struct{ Invalidated, Previously, Errors int }
			r := esRevoke(t, d.front, b)
			fmt.Sscanf(r.body, `{"invalidated_tokens":%d,"previously_invalidated_tokens":%d,"error_count":%d`, &c.Invalidated, &c.Previously, &c.Errors)
			if r.code != 200 || c.Errors != 0 {
				t.Errorf("%s: %d %s", b, r.code, r.body)
			}
			mu.Lock()
			total += c.Invalidated
			previously += c.Previously
			mu.Unlock()
		}(b)
	}
	wg.Wait()
	if total != 300 {
		t.Fatalf("invalidated counts add up to %d, want exactly 300 distinct tokens (previously: %d)", total, previously)
	}
}

// An authoritative registry: an unknown token is not found, in each format's way.
func TestE2EAuthoritativeRegistry(t *testing.T) {
	d := startDev(t, t.TempDir(), nil, "--registry", "authoritative")
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	register(t, d.front, []string{tokenLine("known", "access_token", "saml1", "gina", testID, "", time.Hour)})
	r := esRevoke(t, d.front, `{"token":"unknown-1"}`)
	if r.code != 404 || r.body != fmt.Sprintf(counts, 0, 0, 0) || r.hdr.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Errorf("elasticsearch: %d %s", r.code, r.body)
	}
	r = httpDo(t, "POST", d.front+"/oauth2/revoke", "application/x-www-form-urlencoded", "token=unknown-2", "Authorization", testBasic)
	if r.code != 200 || r.body != "" {
		t.Errorf("rfc7009: %d %q", r.code, r.body)
	}
	r = httpDo(t, "POST", d.front+"/auth/oauth2/revoke", "application/json", `{"access_token":"unknown-3"}`,
		"Authorization", "client_id:"+testID+", client_secret:"+testSecret)
	if r.code != 401 || !strings.Contains(r.body, "Authentication Failure") {
		t.Errorf("onelogin: %d %s", r.code, r.body)
	}
	r = httpDo(t, "POST", d.front+"/oauth2/rest/token/revoke", "application/x-www-form-urlencoded", "token=unknown-4",
		"Authorization", testBasic, "x-oauth-identity-domain-name", "saml1")
	if r.code != 400 || r.body != `{"error":"invalid_request","error_description":"the token is not known to the token registry"}` {
		t.Errorf("oam: %d %s", r.code, r.body)
	}
	for i := 1; i <= 4; i++ {
		if c := check(d.side, fmt.Sprint("unknown-", i)); c != 204 {
			t.Errorf("unknown-%d was revoked: %d", i, c)
		}
	}
	if r := esRevoke(t, d.front, `{"token":"known"}`); r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Errorf("a known token: %s", r.body)
	}
}

// Registry entries disappear at their expiry, and an expired token is not counted.
func TestE2ERegistryExpiry(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", d.front+"/readyz", "", "").code == 200 })
	expiry := time.Now().Add(2 * time.Second)
	register(t, d.front, []string{
		tokenLine("exp-short", "access_token", "saml1", "hank", testID, "", 2*time.Second),
		tokenLine("exp-long", "access_token", "saml1", "hank", testID, "", time.Hour),
	})
	waitFor(t, "the short token's expiry", func() bool { return time.Now().After(expiry.Add(time.Second)) })
	r := esRevoke(t, d.front, `{"username":"hank","realm_name":"saml1"}`)
	if r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("only the live token counts: %s", r.body)
	}
}

// The line cap comes from REVOCAST_MAX_REGISTRY_LINES (--max-registry-lines):
// the lines after it are not read, and the answer says where to resume.
func TestE2ERegistryLineCap(t *testing.T) {
	d := startDev(t, t.TempDir(), []string{"REVOCAST_MAX_REGISTRY_LINES=2"})
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", d.front+"/readyz", "", "").code == 200 })
	var lines []string
	for i := 0; i < 3; i++ {
		lines = append(lines, tokenLine(fmt.Sprint("cap-", i), "access_token", "saml1", "ida", testID, "", time.Hour))
	}
	r := httpDo(t, "POST", d.front+"/v1/tokens", "application/x-ndjson", strings.Join(lines, "\n"), "Authorization", testBasic)
	want := `{"registered":2,"error":"the body has more than 2 lines (the line cap, --max-registry-lines): nothing from line 3 on was read","last_stored_line":2}` + "\n"
	if r.code != 200 || r.body != want {
		t.Fatalf("%d %s", r.code, r.body)
	}
}
