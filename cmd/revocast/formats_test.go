package main

import (
	"encoding/base64"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// For every format, through the binary: a revocation accepted by the front
// is denied by the sidecar.
func TestE2EEveryFormatIsEnforced(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	oneLoginAuth := "client_id:" + testID + ", client_secret:" + testSecret
	cases := []struct {
		format, token string
		send          func(tok string) response
		want          int
	}{
		{"elasticsearch", "es-tok", func(tok string) response { return esRevoke(t, d.front, `{"token":"`+tok+`"}`) }, 200},
		{"oam", "oam-tok", func(tok string) response {
			return httpDo(t, "POST", d.front+"/oauth2/rest/token/revoke", "application/x-www-form-urlencoded;charset=UTF-8",
				"token="+url.QueryEscape(tok)+"&token_type=ACCESS_TOKEN", "Authorization", testBasic, "x-oauth-identity-domain-name", "DemoDomain")
		}, 200},
		{"onelogin", "onelogin-tok", func(tok string) response {
			return httpDo(t, "POST", d.front+"/auth/oauth2/revoke", "application/json", `{"access_token":"`+tok+`"}`, "Authorization", oneLoginAuth)
		}, 200},
		{"rfc7009", "rfc-tok", func(tok string) response {
			return httpDo(t, "POST", d.front+"/oauth2/revoke", "application/x-www-form-urlencoded",
				"token="+url.QueryEscape(tok)+"&token_type_hint=access_token", "Authorization", testBasic)
		}, 200},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			if code := check(d.side, c.token); code != 204 {
				t.Fatalf("before: %d", code)
			}
			r := c.send(c.token)
			if r.code != c.want {
				t.Fatalf("%s answered %d %s", c.format, r.code, r.body)
			}
			waitFor(t, c.format+" revocation enforced", func() bool { return check(d.side, c.token) == 401 })
		})
	}
}

// openid-client (npm), driven against the real binary's RFC 7009 endpoint.
func TestE2EOpenIDClient(t *testing.T) {
	dir, _ := filepath.Abs("../../publisher/rfc7009/testdata/openid-client")
	if _, err := exec.LookPath("node"); err != nil || !exists(filepath.Join(dir, "node_modules")) {
		if os.Getenv("REVOCAST_REQUIRE_NODE") == "1" {
			t.Fatalf("node or %s/node_modules missing (REVOCAST_REQUIRE_NODE=1)", dir)
		}
		t.Skipf("needs node and: npm ci --prefix publisher/rfc7009/testdata/openid-client")
	}
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	for _, method := range []string{"basic", "post"} {
		tok := "oidc-" + method
		out, err := exec.Command("node", filepath.Join(dir, "revoke.mjs"), d.front, testID, testSecret, tok, "access_token", method).CombinedOutput()
		if err != nil {
			t.Fatalf("openid-client %s: %v\n%s", method, err, out)
		}
		waitFor(t, "openid-client revocation enforced", func() bool { return check(d.side, tok) == 401 })
	}
	out, err := exec.Command("node", filepath.Join(dir, "revoke.mjs"), d.front, testID, "wrong", "x", "", "basic").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "invalid_client") {
		t.Fatalf("a wrong secret: %v\n%s", err, out)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// A principal limited to realm A cannot revoke in realm B, and every format
// says so in its own error shape.
func TestRealmRestrictedPrincipalInEveryFormat(t *testing.T) {
	h := testHash()
	cfg, err := parseConfig([]byte(`
clients:
  - {id: limited, secret_hash: '` + h + `', allow: ["*"], realms: [realmA]}
users:
  - {username: limited, password_hash: '` + h + `', allow: [elasticsearch], realms: [realmA]}
  - {username: nope, password_hash: '` + h + `', allow: [oam], realms: ["*"]}
realms:
  - {name: realmA, issuers: [https://a.example.com]}
  - {name: realmB, issuers: [https://b.example.com]}
`))
	if err != nil {
		t.Fatal(err)
	}
	sys := newSystemWith(t, cfg)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("limited:"+testSecret))
	jwtB := jwtFor(`{"iss":"https://b.example.com","sub":"bob","exp":4102444800}`)
	jwtA := jwtFor(`{"iss":"https://a.example.com","sub":"bob","exp":4102444800}`)
	cases := []struct {
		name       string
		send       func() response
		code       int
		bodyPrefix string
	}{
		{"es realm B", func() response {
			return esRevoke(t, sys.url, `{"realm_name":"realmB"}`, "Authorization", basic)
		}, 403, `{"error":{"root_cause":[{"type":"security_exception","reason":"action [cluster:admin/xpack/security/token/invalidate] is unauthorized for user [limited] in realm [realmB]"}]`},
		{"es user in every realm", func() response {
			return esRevoke(t, sys.url, `{"username":"bob"}`, "Authorization", basic)
		}, 403, `{"error":{"root_cause":[{"type":"security_exception"`},
		{"es without the right", func() response {
			return esRevoke(t, sys.url, `{"token":"x"}`, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("nope:"+testSecret)))
		}, 403, `{"error":{"root_cause":[{"type":"security_exception","reason":"action [cluster:admin/xpack/security/token/invalidate] is unauthorized for user [nope], this action is granted by`},
		{"es realm A allowed", func() response {
			return esRevoke(t, sys.url, `{"realm_name":"realmA"}`, "Authorization", basic)
		}, 200, `{"invalidated_tokens":0`},
		{"oam identity domain B", func() response {
			return httpDo(t, "POST", sys.url+"/oauth2/rest/token/revoke", "application/x-www-form-urlencoded", "token=abc",
				"Authorization", basic, "x-oauth-identity-domain-name", "realmB")
		}, 403, `{"error":"access_denied","error_description":"client [limited] may not revoke tokens in identity domain [realmB]"}`},
		{"onelogin JWT of realm B", func() response {
			return httpDo(t, "POST", sys.url+"/auth/oauth2/revoke", "application/json", `{"access_token":"`+jwtB+`"}`, "Authorization", basic)
		}, 403, `{"status":{"error":true,"code":403,"type":"Forbidden","message":"Client [limited] may not revoke tokens of realm [realmB]"}}`},
		{"onelogin JWT of realm A allowed", func() response {
			return httpDo(t, "POST", sys.url+"/auth/oauth2/revoke", "application/json", `{"access_token":"`+jwtA+`"}`, "Authorization", basic)
		}, 200, `{"status":{"error":false,"code":200`},
		{"rfc7009 JWT of realm B", func() response {
			return httpDo(t, "POST", sys.url+"/oauth2/revoke", "application/x-www-form-urlencoded", "token="+jwtB, "Authorization", basic)
		}, 400, `{"error":"unauthorized_client","error_description":"client limited may not revoke tokens of realm [realmB]"}`},
		{"rfc7009 opaque token of unknown realm", func() response {
			return httpDo(t, "POST", sys.url+"/oauth2/revoke", "application/x-www-form-urlencoded", "token=opaque", "Authorization", basic)
		}, 400, `{"error":"unauthorized_client"`},
	}
	for _, c := range cases {
		r := c.send()
		if r.code != c.code || !strings.HasPrefix(r.body, c.bodyPrefix) {
			t.Errorf("%s: %d %s\nwant %d %s...", c.name, r.code, r.body, c.code, c.bodyPrefix)
		}
	}
}

func jwtFor(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}
