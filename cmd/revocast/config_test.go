package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/revocast/revocast/publisher/auth"
)

func TestParseConfigValid(t *testing.T) {
	h := testHash()
	c, err := parseConfig([]byte(`
clients:
  - id: DemoClientId
    secret_hash: '` + h + `'
    allow: [oam, onelogin, rfc7009]
    realms: [DemoDomain]
users:
  - {username: elastic, password_hash: '` + h + `', allow: [elasticsearch], realms: ["*"]}
api_keys:
  - {id: VuaCfGcBCdbkQm-e5aOx, key_hash: '` + h + `', allow: [elasticsearch], realms: [saml1]}
realms:
  - {name: saml1, issuers: [https://idp.example.com/realms/saml1]}
  - {name: DemoDomain, issuers: [https://oam.example.com/oauth2]}
limits:
  max_body: 32KiB
  auth_failures_per_minute: 20
  auth_failure_burst: 5
  trusted_proxies: [10.0.0.0/8, 192.0.2.7, "2001:db8::/32", "::ffff:198.51.100.1"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.auth.Credentials) != 3 || c.issuerRealms["https://oam.example.com/oauth2"] != "DemoDomain" ||
		c.maxBody != 32<<10 || c.auth.FailuresPerMinute != 20 || c.auth.FailureBurst != 5 {
		t.Fatalf("config = %+v", c)
	}
	if got := fmt.Sprint(c.trustedProxies); got != "[10.0.0.0/8 192.0.2.7/32 2001:db8::/32 198.51.100.1/32]" {
		t.Errorf("trusted proxies %s", got)
	}
	if _, err := auth.NewStore(c.auth); err != nil {
		t.Fatal(err)
	}
}

// Every problem of a configuration is reported at once.
func TestParseConfigReportsEveryProblem(t *testing.T) {
	_, err := parseConfig([]byte(`
clients:
  - {id: a, secret_hash: plain-text-secret, allow: [oam, fly], realms: [r]}
  - {id: a, secret_hash: '$2a$10$invalid', allow: [], realms: []}
realms:
  - {name: r1, issuers: [https://same]}
  - {name: r2, issuers: [https://same]}
  - {name: r1}
limits: {max_body: huge, auth_failures_per_minute: -1, trusted_proxies: [10.0.0.1/8, proxy.example.com, 0.0.0.0/0, 10.0.0.0/8]}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"revocast hash-secret", `unknown operation "fly"`, "defined twice", "allow lists no operation",
		"realms lists no realm", `issuer "https://same" belongs to realms`, `realm "r1" is defined twice`, "limits.max_body",
		"must not be negative", `"10.0.0.1/8" has host bits set: 10.0.0.0/8, or 10.0.0.1/32`,
		`"proxy.example.com" is neither an address nor a CIDR`, `"0.0.0.0/0" trusts every peer`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if _, err := parseConfig([]byte("clients:\n  - {id: a, secret: x}\n")); err == nil || !strings.Contains(err.Error(), "field secret not found") {
		t.Errorf("an unknown key (a secret in clear) is not refused: %v", err)
	}
	if c, err := parseConfig(nil); err != nil || len(c.auth.Credentials) != 0 {
		t.Errorf("empty file: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("clients:\n  - {id: a, secret_hash: x, allow: ['*'], realms: ['*']}\n"))
	f.Add([]byte("realms:\n  - {name: r, issuers: [i]}\nlimits: {max_body: 1KiB}\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConfig(b)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err == nil {
			for _, cr := range c.auth.Credentials {
				if auth.ValidHash(cr.SecretHash) != nil {
					t.Fatalf("accepted an unhashed secret for %s", cr.ID)
				}
			}
		}
	})
}

func TestHashSecretCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runHashSecret(nil, func(string) string { return "" }, strings.NewReader("welcome1\n"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if !auth.VerifySecret(h, "welcome1") || strings.Contains(out.String(), "welcome1") {
		t.Fatalf("hash-secret printed %q", out.String())
	}
	out.Reset()
	if err := runHashSecret([]string{"--generate"}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var secret, hash string
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, "secret: "); ok {
			secret = v
		}
		if v, ok := strings.CutPrefix(l, "hash:   "); ok {
			hash = v
		}
	}
	if secret == "" || !auth.VerifySecret(hash, secret) {
		t.Fatalf("--generate printed %q", out.String())
	}
	if err := runHashSecret(nil, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err == nil {
		t.Fatal("an empty secret was hashed")
	}
}

// The dev admin: created at first start with its secret shown once and only
// its hash kept (mode 0600); found again at the next start; replaced by
// REVOCAST_DEV_CLIENT.
func TestDevAdmin(t *testing.T) {
	dir := t.TempDir()
	noEnv := func(string) string { return "" }
	creds, tell, err := devAdmin(dir, false, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tell(&out, "http://127.0.0.1:8080")
	secret := ""
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "secret:"); ok {
			secret = strings.TrimSpace(v)
		}
	}
	if secret == "" || len(creds) != 3 || !auth.VerifySecret(creds[0].SecretHash, secret) {
		t.Fatalf("first start: %q %+v", out.String(), creds)
	}
	st, err := os.Stat(filepath.Join(dir, devAdminFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin file: %v %v", err, st.Mode())
	}
	b, _ := os.ReadFile(filepath.Join(dir, devAdminFile))
	if strings.Contains(string(b), secret) {
		t.Fatal("the secret itself is stored")
	}
	store, err := auth.NewStore(auth.Config{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []auth.Kind{auth.KindClient, auth.KindUser, auth.KindAPIKey} {
		if p, err := store.Authenticate(k, "peer", auth.Creds{ID: "admin", Secret: secret}); err != nil || !p.AllRealms() || !p.Can(auth.OpRFC7009) {
			t.Fatalf("%s: %v", k, err)
		}
	}

	creds2, tell2, err := devAdmin(dir, false, noEnv)
	if err != nil || creds2[0].SecretHash != creds[0].SecretHash {
		t.Fatalf("second start: %v", err)
	}
	out.Reset()
	tell2(&out, "http://x")
	if strings.Contains(out.String(), secret) || !strings.Contains(out.String(), "printed at first start") {
		t.Fatalf("second start printed %q", out.String())
	}

	env := func(k string) string {
		if k == devAdminEnv {
			return "ops:s3cret"
		}
		return ""
	}
	creds3, _, err := devAdmin(t.TempDir(), false, env)
	if err != nil || creds3[0].ID != "ops" || !auth.VerifySecret(creds3[0].SecretHash, "s3cret") {
		t.Fatalf("from %s: %v %+v", devAdminEnv, err, creds3)
	}
	if _, _, err := devAdmin(t.TempDir(), false, func(string) string { return "no-colon" }); err == nil {
		t.Fatal("a malformed REVOCAST_DEV_CLIENT was accepted")
	}
	withConfig, _, err := devAdmin(t.TempDir(), true, noEnv)
	if err != nil || len(withConfig) != 0 {
		t.Fatalf("with a --config file no admin is made: %v %v", withConfig, err)
	}
}
