package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func mustHash(t testing.TB, s string) string {
	t.Helper()
	h, err := HashSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newStore(t *testing.T, creds ...Credential) *Store {
	t.Helper()
	s, err := NewStore(Config{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHashAndVerify(t *testing.T) {
	h := mustHash(t, "welcome1")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || ValidHash(h) != nil {
		t.Fatalf("hash %q", h)
	}
	if !VerifySecret(h, "welcome1") || VerifySecret(h, "welcome2") || VerifySecret(h, "") {
		t.Fatal("argon2id verification wrong")
	}
	b, _ := bcrypt.GenerateFromPassword([]byte("welcome1"), bcrypt.MinCost)
	if ValidHash(string(b)) != nil || !VerifySecret(string(b), "welcome1") || VerifySecret(string(b), "x") {
		t.Fatal("bcrypt verification wrong")
	}
	for _, bad := range []string{"welcome1", "", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$a2V5", "$2a$xx", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		if !errors.Is(ValidHash(bad), ErrNotHashed) {
			t.Errorf("ValidHash(%q) accepted", bad)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	s := newStore(t,
		Credential{Kind: KindClient, ID: "DemoClientId", SecretHash: mustHash(t, "welcome1"), Allow: []string{"oam"}, Realms: []string{"DemoDomain"}},
		Credential{Kind: KindUser, ID: "elastic", SecretHash: mustHash(t, "changeme"), Allow: []string{"*"}, Realms: []string{"*"}},
	)
	p, err := s.Authenticate(KindClient, "10.0.0.1", Creds{"DemoClientId", "welcome1"})
	if err != nil || p.ID != "DemoClientId" || !p.Can(OpOAM) || p.Can(OpElasticsearch) || !p.InRealm("DemoDomain") || p.InRealm("Other") || p.InRealm("") {
		t.Fatalf("client: %v %+v", err, p)
	}
	// cached verification answers the same
	if p2, err := s.Authenticate(KindClient, "10.0.0.1", Creds{"DemoClientId", "welcome1"}); err != nil || p2 != p {
		t.Fatalf("second authentication: %v", err)
	}
	if _, err := s.Authenticate(KindClient, "10.0.0.1", Creds{"DemoClientId", "welcome2"}); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := s.Authenticate(KindClient, "10.0.0.1", Creds{"nobody", "welcome1"}); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := s.Authenticate(KindUser, "10.0.0.1", Creds{"DemoClientId", "welcome1"}); !errors.Is(err, ErrBadCredentials) {
		t.Fatal("a client authenticated as a user")
	}
	u, err := s.Authenticate(KindUser, "10.0.0.1", Creds{"elastic", "changeme"})
	if err != nil || !u.AllRealms() || !u.InRealm("") || !u.Can(OpRegister) {
		t.Fatalf("superuser: %v %+v", err, u)
	}
}

func TestConfigValidateReportsEverything(t *testing.T) {
	err := Config{Credentials: []Credential{
		{Kind: KindClient, ID: "a", SecretHash: "plaintext", Allow: []string{"oam", "teleport"}, Realms: []string{"r"}},
		{Kind: KindClient, ID: "a", SecretHash: mustHash(t, "x"), Allow: nil, Realms: nil},
		{Kind: "robot", ID: "", SecretHash: mustHash(t, "x"), Allow: []string{"*"}, Realms: []string{"*"}},
	}}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"revocast hash-secret", `unknown operation "teleport"`, "defined twice", "allow lists no operation",
		"realms lists no realm", "unknown kind", "id must be"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestParsers(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	if id, sec, ok := ParseBasic("Basic RGVtb0NsaWVudElkOndlbGNvbWUx"); !ok || id != "DemoClientId" || sec != "welcome1" {
		t.Errorf("Basic: %q %q %v", id, sec, ok)
	}
	if id, sec, ok := ParseBasic("basic " + b64("a:b:c")); !ok || id != "a" || sec != "b:c" {
		t.Errorf("Basic with ':' in the secret: %q %q %v", id, sec, ok)
	}
	for _, bad := range []string{"", "Basic", "Basic !!!", "Basic " + b64("nocolon"), "Bearer " + b64("a:b"), "Basic " + b64(":x")} {
		if _, _, ok := ParseBasic(bad); ok {
			t.Errorf("ParseBasic(%q) accepted", bad)
		}
	}
	if id, key, ok := ParseAPIKey("ApiKey " + b64("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")); !ok || id != "VuaCfGcBCdbkQm-e5aOx" || key != "ui2lp2axTNmsyakw9tvNnw" {
		t.Errorf("ApiKey: %q %q %v", id, key, ok)
	}
	for in, want := range map[string][2]string{
		"client_id:abc, client_secret:def":   {"abc", "def"},
		"client_secret: def ,client_id: abc": {"abc", "def"},
		"CLIENT_ID:abc,CLIENT_SECRET:d:e:f":  {"abc", "d:e:f"},
	} {
		if id, sec, ok := ParseOneLogin(in); !ok || id != want[0] || sec != want[1] {
			t.Errorf("ParseOneLogin(%q) = %q %q %v", in, id, sec, ok)
		}
	}
	for _, bad := range []string{"", "client_id:abc", "client_id:abc, client_secret:", "Basic abc", "client_id:a, client_secret:b, x:c", "bearer:x, client_secret:y"} {
		if _, _, ok := ParseOneLogin(bad); ok {
			t.Errorf("ParseOneLogin(%q) accepted", bad)
		}
	}
	c := BasicCandidates("my%20client", "p%2Bss")
	if len(c) != 2 || c[0] != (Creds{"my client", "p+ss"}) || c[1] != (Creds{"my%20client", "p%2Bss"}) {
		t.Errorf("BasicCandidates = %v", c)
	}
	if c := BasicCandidates("plain", "secret"); len(c) != 1 {
		t.Errorf("BasicCandidates of plain values = %v", c)
	}
}

func FuzzParsers(f *testing.F) {
	f.Add("Basic RGVtb0NsaWVudElkOndlbGNvbWUx")
	f.Add("ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
	f.Add("client_id:abc, client_secret:def")
	f.Fuzz(func(t *testing.T, h string) {
		if id, _, ok := ParseBasic(h); ok && id == "" {
			t.Fatal("empty id accepted")
		}
		if id, key, ok := ParseAPIKey(h); ok && (id == "" || key == "") {
			t.Fatal("empty api key part accepted")
		}
		if id, sec, ok := ParseOneLogin(h); ok && (id == "" || sec == "") {
			t.Fatal("empty OneLogin part accepted")
		}
		_ = ValidHash(h)
		_ = VerifySecret(h, "x")
	})
}

func TestRetryAfterSecondsRoundsUp(t *testing.T) {
	for in, want := range map[string]int{"0s": 1, "200ms": 1, "1s": 1, "1.2s": 2, "59.9s": 60} {
		d, err := time.ParseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := (&RateLimitedError{RetryAfter: d}).Seconds(); got != want {
			t.Errorf("%s: %d, want %d", in, got, want)
		}
	}
}

// A transmitter's bearer token is a credential of its own kind, allowed the
// ssf operation and nothing else; nobody else may be allowed ssf.
func TestTransmitterCredentials(t *testing.T) {
	h, _ := HashSecret("push-token")
	good := Credential{Kind: KindTransmitter, ID: "kc", SecretHash: h, Allow: []string{string(OpSSF)}, Realms: []string{"acme"}}
	if err := (Config{Credentials: []Credential{good}}).Validate(); err != nil {
		t.Fatal(err)
	}
	for name, cr := range map[string]Credential{
		"transmitter allowed more": {Kind: KindTransmitter, ID: "kc", SecretHash: h, Allow: []string{"ssf", "oam"}, Realms: []string{"a"}},
		"transmitter allowed *":    {Kind: KindTransmitter, ID: "kc", SecretHash: h, Allow: []string{"*"}, Realms: []string{"a"}},
		"client allowed ssf":       {Kind: KindClient, ID: "c", SecretHash: h, Allow: []string{"ssf"}, Realms: []string{"a"}},
		"transmitter, no realm":    {Kind: KindTransmitter, ID: "kc", SecretHash: h, Allow: []string{"ssf"}},
	} {
		if err := (Config{Credentials: []Credential{cr}}).Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := NewStore(Config{Credentials: []Credential{good}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(KindTransmitter, "127.0.0.1", Creds{ID: "kc", Secret: "push-token"})
	if err != nil || !p.Can(OpSSF) || p.Can(OpRevocations) || !p.InRealm("acme") || p.InRealm("other") {
		t.Fatalf("%v %v", p, err)
	}
}
