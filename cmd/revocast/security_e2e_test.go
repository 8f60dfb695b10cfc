package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwttest"
	"github.com/revocast/revocast/internal/natstest"
)

// writeRealmConfig writes a --config whose client and user "a-admin" may
// act only in realm A (every format); with startDev, the all-realms test
// principal comes from REVOCAST_DEV_CLIENT.
func writeRealmConfig(t *testing.T, extra string) string {
	t.Helper()
	h := testHash()
	body := fmt.Sprintf("clients:\n  - {id: a-admin, secret_hash: '%s', allow: ['*'], realms: [A]}\n"+
		"users:\n  - {username: a-admin, password_hash: '%s', allow: ['*'], realms: [A]}\n%s", h, h, extra)
	path := filepath.Join(t.TempDir(), "revocast.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var aAdminBasic = "Basic " + base64.StdEncoding.EncodeToString([]byte("a-admin:"+testSecret))

// Seen: in dev, --issuer-realm reached the sidecar's issuer map but not the
// front's, so the front authorized a JWT against another realm than the
// sidecar enforced. One map now serves both: a realm-A admin may revoke a
// JWT whose issuer --issuer-realm maps to A, and a realm-A rule denies it.
func TestE2EOneIssuerRealmMap(t *testing.T) {
	const iss = "https://idp.example/realms/a"
	d := startDev(t, t.TempDir(), nil, "--config", writeRealmConfig(t, ""), "--issuer-realm", iss+"=A")
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	key := jwttest.Key(t)
	tok := jwttest.ES256(t, key, jwt.MapClaims{"iss": iss, "sub": "alice", "iat": time.Now().Unix(),
		"exp": time.Now().Add(time.Hour).Unix()})
	r := esRevoke(t, d.front, `{"token":"`+tok+`"}`, "Authorization", aAdminBasic)
	if r.code != 200 || r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("realm-A admin revoking a JWT of an issuer mapped to A: %d %s", r.code, r.body)
	}
	if c := check(d.side, jwttest.HighS(t, tok)); c != 401 {
		t.Fatalf("the high-s twin of the revoked JWT: %d", c)
	}
	other := jwttest.ES256(t, key, jwt.MapClaims{"iss": iss, "sub": "bob", "iat": time.Now().Add(-time.Minute).Unix()})
	if c := check(d.side, other); c != 204 {
		t.Fatalf("another JWT before the realm rule: %d", c)
	}
	r = esRevoke(t, d.front, `{"realm_name":"A"}`, "Authorization", aAdminBasic)
	if r.code != 200 {
		t.Fatalf("realm rule: %d %s", r.code, r.body)
	}
	if c := check(d.side, other); c != 401 {
		t.Fatalf("the sidecar does not enforce realm A on the mapped issuer: %d", c)
	}
}

// Seen: the sidecar answered CONNECT /v1/check/x with 204. Both services
// refuse CONNECT and TRACE.
func TestE2ERefusesConnectAndTrace(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	for _, base := range []string{d.side, d.front} {
		for _, line := range []string{"CONNECT /v1/check/x HTTP/1.1", "TRACE /_security/oauth2/token HTTP/1.1"} {
			c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "%s\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n", line)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d", base, line, resp.StatusCode)
			}
		}
	}
}

// POST /v1/revocations revokes a JWT by issuer and JWT ID (every JWT with
// them is denied, in every spelling) and a token by the key `revocast
// hash-token` prints.
func TestE2ERevokeByJWTIDAndByKey(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	key := jwttest.Key(t)
	byID := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example", "sub": "alice", "jti": "jti-1"})
	r := httpDo(t, "POST", d.front+"/v1/revocations", "application/json",
		`{"jwt_id":{"iss":"https://idp.example","jti":"jti-1"},"expires_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`,
		"Authorization", testBasic)
	if r.code != 200 || r.body != `{"invalidated":1,"previously_invalidated":0}`+"\n" {
		t.Fatalf("revoke by JWT ID: %d %s", r.code, r.body)
	}
	if c := check(d.side, jwttest.Reencoded(t, byID)); c != 401 {
		t.Fatalf("a JWT carrying the revoked JWT ID: %d", c)
	}

	byKey := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example", "sub": "bob"})
	cmd := exec.Command(binary, "hash-token")
	cmd.Stdin = strings.NewReader(byKey + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.TrimSpace(string(out))
	r = httpDo(t, "POST", d.front+"/v1/revocations", "application/json", `{"token_sha256":"`+sum+`"}`, "Authorization", testBasic)
	if r.code != 200 || !strings.Contains(r.body, `"invalidated":1`) {
		t.Fatalf("revoke by key: %d %s", r.code, r.body)
	}
	if c := check(d.side, jwttest.HighS(t, byKey)); c != 401 {
		t.Fatalf("the high-s twin of a token revoked by its key: %d", c)
	}
	if strings.Contains(d.log(), byKey) || strings.Contains(d.log(), byID) {
		t.Fatal("a raw token appears in the log")
	}
}

// Seen: with --cache-capacity 1000, a principal allowed only in realm A
// registered 3,000 tokens of A and revoked realm A: 200 with error_count 0,
// the sidecar evicted 2,795 unexpired revocations and every check of every
// realm answered 503; restarted with --stale-policy allow, 67 of 100 revoked
// realm-B tokens answered 204. Now the front refuses the request before
// storing anything, naming the limit and the issued-before rule, and realm
// B's revocations stay enforced under either policy.
func TestE2ECapacityIsABudgetTheFrontEnforces(t *testing.T) {
	dir := t.TempDir()
	cfg := writeRealmConfig(t, "")
	d := startDev(t, dir, nil, "--config", cfg, "--cache-capacity", "1000")
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	var bToks []string
	for i := 0; i < 100; i++ {
		tok := fmt.Sprintf("realm-b-token-%d", i)
		bToks = append(bToks, tok)
		r := httpDo(t, "POST", d.front+"/oauth2/rest/token/revoke", "application/x-www-form-urlencoded", "token="+tok,
			"Authorization", testBasic, "x-oauth-identity-domain-name", "B")
		if r.code != 200 {
			t.Fatalf("revoking realm-B token %d: %d %s", i, r.code, r.body)
		}
	}
	var lines []string
	for i := 0; i < 3000; i++ {
		lines = append(lines, tokenLine(fmt.Sprintf("realm-a-token-%d", i), "access_token", "A", fmt.Sprint("user-", i%50), "app", "", time.Hour))
	}
	r := httpDo(t, "POST", d.front+"/v1/tokens", "application/x-ndjson", strings.Join(lines, "\n")+"\n", "Authorization", aAdminBasic)
	if r.code != 200 || r.body != `{"registered":3000}`+"\n" {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	r = esRevoke(t, d.front, `{"realm_name":"A"}`, "Authorization", aAdminBasic)
	if r.code != 429 || !strings.Contains(r.body, `"type":"circuit_breaking_exception"`) ||
		!strings.Contains(r.body, "past its capacity of 1000 live revocations") || !strings.Contains(r.body, "issued-before rule") {
		t.Fatalf("revoking 3,000 tokens into a sidecar of capacity 1,000: %d %s", r.code, r.body)
	}
	if c := check(d.side, "realm-a-token-0"); c != 204 {
		t.Fatalf("a refused request revoked something: %d", c)
	}
	if !allDenied(d.side, bToks) {
		t.Fatal("a revoked realm-B token is allowed")
	}
	st := httpDo(t, "GET", d.side+"/readyz", "", "")
	if st.code != 200 || strings.Contains(st.body, "did not fit") {
		t.Fatalf("sidecar after the refused request: %d %s", st.code, st.body)
	}
	d.stop()

	d2 := startDev(t, dir, nil, "--config", cfg, "--cache-capacity", "1000", "--stale-policy", "allow")
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d2.side+"/readyz", "", "").code == 200 })
	if !allDenied(d2.side, bToks) {
		t.Fatal("after a restart with --stale-policy allow, a revoked realm-B token is allowed")
	}
}

// A registry record may name a JWT by issuer and JWT ID: revoking its user
// then revokes that JWT by JWT ID, so it is denied even if issued after the
// user's rule would reach (its iat is in the future of the rule).
func TestE2ERegisteredJWTIDIsRevokedWithItsUser(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	line := `{"iss":"https://idp.example","jti":"reg-jti-1","type":"access_token","realm":"saml1","username":"carol","client_id":"app","expires_at":"` + exp + `"}`
	r := httpDo(t, "POST", d.front+"/v1/tokens", "application/x-ndjson", line+"\n", "Authorization", testBasic)
	if r.code != 200 || r.body != `{"registered":1}`+"\n" {
		t.Fatalf("register by JWT ID: %d %s", r.code, r.body)
	}
	key := jwttest.Key(t)
	// iat a while after now: no issued-before rule made now reaches it.
	tok := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example", "sub": "carol", "jti": "reg-jti-1",
		"iat": time.Now().Add(10 * time.Minute).Unix()})
	if c := check(d.side, tok); c != 204 {
		t.Fatalf("before the revocation: %d", c)
	}
	r = esRevoke(t, d.front, `{"username":"carol","realm_name":"saml1"}`)
	if r.code != 200 || r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("revoke the user: %d %s", r.code, r.body)
	}
	if c := check(d.side, jwttest.HighS(t, tok)); c != 401 {
		t.Fatalf("the registered JWT ID after its user was revoked: %d", c)
	}
}

// Fronts do no stream administration unless told to: without the streams
// a front says on /readyz what to run; `revocast init` creates them; a
// stream deleted under a running front makes it unready until it exists
// again, and a front with --manage-streams re-creates it without a restart.
func TestE2EStreamsAreTheOperatorsAndReadinessTellsTheTruth(t *testing.T) {
	ns := natstest.Start(t)
	cfg := writeConfig(t, "")
	plain := start(t, nil, "publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--config", cfg)
	front := plain.addr("publisher")
	waitFor(t, "readyz to name revocast init", func() bool {
		r := httpDo(t, "GET", front+"/readyz", "", "")
		return r.code == 503 && strings.Contains(r.body, "revocast init")
	})
	out, err := exec.Command(binary, "init", "--nats-url", ns.ClientURL()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "are ready") {
		t.Fatalf("revocast init: %v %s", err, out)
	}
	waitFor(t, "the front ready", func() bool { return httpDo(t, "GET", front+"/readyz", "", "").code == 200 })

	managing := start(t, nil, "publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--config", cfg,
		"--manage-streams")
	front2 := managing.addr("publisher")
	waitFor(t, "the managing front ready", func() bool { return httpDo(t, "GET", front2+"/readyz", "", "").code == 200 })
	js := natstest.JetStream(t, ns)
	if err := js.DeleteStream(context.Background(), events.DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream re-created by the managing front", func() bool {
		_, err := js.Stream(context.Background(), events.DefaultStreamName)
		return err == nil
	})
	waitFor(t, "both fronts ready again", func() bool {
		return httpDo(t, "GET", front+"/readyz", "", "").code == 200 && httpDo(t, "GET", front2+"/readyz", "", "").code == 200
	})
	if r := esRevoke(t, front, `{"token":"after-recreation"}`); r.code != 200 {
		t.Fatalf("revoke after the re-creation: %d %s", r.code, r.body)
	}
}
