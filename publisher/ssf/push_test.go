package ssf

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/internal/ssftest"
)

func issSub(sub string) map[string]any {
	return map[string]any{"format": "iss_sub", "iss": issuer, "sub": sub}
}

// Every refusal gets RFC 8935's answer (or 401 for the bearer token) and
// stores nothing: neither an event nor a replay record.
func TestPushRefusalsStoreNothing(t *testing.T) {
	e := newEnv(t)
	tr := e.tr
	ev := map[string]any{"event_timestamp": time.Now().Unix()}
	_, good := tr.SET(ssftest.CredentialChange, ev, issSub("alice"))
	other := ssftest.NewKey(t, "k1", jose.ES256) // same kid, another key
	hmacSigned := func() string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("k", 32))},
			(&jose.SignerOptions{}).WithType("secevent+jwt").WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"iss": issuer, "aud": audience, "iat": time.Now().Unix(), "jti": "h1",
			"sub_id": issSub("alice"), "events": map[string]any{ssftest.CredentialChange: ev}})
		jws, _ := s.Sign(b)
		out, _ := jws.CompactSerialize()
		return out
	}()
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(`{"alg":"none","typ":"secevent+jwt"}`)) + "." + strings.Split(good, ".")[1] + "."
	tampered := func() string {
		p := strings.Split(good, ".")
		b, _ := base64.RawURLEncoding.DecodeString(p[1])
		p[1] = enc([]byte(strings.Replace(string(b), "alice", "mallory", 1)))
		return strings.Join(p, ".")
	}()
	edit := func(k string, v any) func(ssftest.Claims) { return func(c ssftest.Claims) { c[k] = v } }
	sign := func(event string, subject map[string]any, f ...func(ssftest.Claims)) string {
		_, s := tr.SET(event, ev, subject, f...)
		return s
	}
	cases := []struct {
		name, set string
		hdr       []string
		code      int
		err, desc string
	}{
		{"no bearer token", good, []string{"Authorization", ""}, 401, "authentication_failed", "Bearer"},
		{"wrong bearer token", good, []string{"Authorization", "Bearer nope"}, 401, "authentication_failed", "not a configured transmitter"},
		{"wrong content type", good, []string{"Content-Type", "application/jwt"}, 400, "invalid_request", "application/secevent+jwt"},
		{"bad signature", tampered, nil, 400, "invalid_key", "does not verify"},
		{"another key under a known kid", ssftest.SignWith(t, other, ssftest.Claims{"iss": issuer, "aud": audience,
			"iat": time.Now().Unix(), "jti": "x1", "events": map[string]any{ssftest.CredentialChange: ev}, "sub_id": issSub("a")},
			"secevent+jwt"), nil, 400, "invalid_key", "does not verify"},
		{"unknown kid", ssftest.SignWith(t, ssftest.NewKey(t, "k-unknown", jose.ES256), ssftest.Claims{"iss": issuer,
			"aud": audience, "iat": time.Now().Unix(), "jti": "x2", "events": map[string]any{ssftest.CredentialChange: ev}},
			"secevent+jwt"), nil, 400, "invalid_key", `kid "k-unknown"`},
		{"alg none", unsigned, nil, 400, "invalid_key", "alg none"},
		{"HMAC", hmacSigned, nil, 400, "invalid_key", "HMAC"},
		{"wrong iss", sign(ssftest.CredentialChange, issSub("alice"), edit("iss", "https://evil.test")), nil, 400, "invalid_issuer", "evil.test"},
		{"wrong aud", sign(ssftest.CredentialChange, issSub("alice"), edit("aud", "https://someone-else")), nil, 400, "invalid_audience", "revocast.test"},
		{"no aud", sign(ssftest.CredentialChange, issSub("alice"), func(c ssftest.Claims) { delete(c, "aud") }), nil, 400, "invalid_audience", ""},
		{"typ JWT", tr.Sign(ssftest.Claims{"iss": issuer}, "JWT"), nil, 400, "invalid_request", "secevent+jwt"},
		{"too old", sign(ssftest.CredentialChange, issSub("alice"), edit("iat", time.Now().Add(-25*time.Hour).Unix())), nil, 400, "invalid_request", "replay"},
		{"from the future", sign(ssftest.CredentialChange, issSub("alice"), edit("iat", time.Now().Add(time.Hour).Unix())), nil, 400, "invalid_request", "future"},
		{"no jti", sign(ssftest.CredentialChange, issSub("alice"), func(c ssftest.Claims) { delete(c, "jti") }), nil, 400, "invalid_request", "jti"},
		{"unmappable event", sign("https://schemas.openid.net/secevent/caep/event-type/assurance-level-change", issSub("alice")), nil, 400, "invalid_request", "not one revocast acts on"},
		{"unmappable subject format", sign(ssftest.CredentialChange, map[string]any{"format": "phone_number", "phone_number": "+12065550100"}), nil, 400, "invalid_request", "phone_number"},
		{"email subject in a sub realm", sign(ssftest.CredentialChange, map[string]any{"format": "email", "email": "a@b.test"}), nil, 400, "invalid_request", `names its users by the "sub" claim`},
		{"token-claims-change of a user", sign(ssftest.TokenClaimsChange, issSub("alice")), nil, 400, "invalid_request", "jwt_id subject only"},
		{"a realm the transmitter may not touch", sign(ssftest.CredentialChange, map[string]any{"format": "iss_sub",
			"iss": "https://other-idp.test", "sub": "alice"}), nil, 400, "access_denied", "other-idp"},
		{"a tenant it may not touch", sign(ssftest.SessionRevoked, map[string]any{"format": "complex",
			"tenant": map[string]any{"format": "opaque", "id": "globex"}, "session": map[string]any{"format": "opaque", "id": "s"}}),
			nil, 400, "access_denied", "globex"},
		{"a JWT of a realm it may not touch", sign(ssftest.TokenClaimsChange, map[string]any{"format": "jwt_id",
			"iss": "https://other-idp.test", "jti": "j"}), nil, 400, "access_denied", "other-idp"},
		{"encrypted", "a.b.c.d.e", nil, 400, "invalid_request", "JWE"},
		{"not a JWS", "hello", nil, 400, "invalid_request", "compact"},
	}
	before := e.seqs()
	for _, c := range cases {
		a := e.push(c.set, c.hdr...)
		var body errorBody
		if err := json.Unmarshal([]byte(a.body), &body); err != nil {
			t.Errorf("%s: %d %q is not JSON", c.name, a.code, a.body)
			continue
		}
		if a.code != c.code || body.Err != c.err || !strings.Contains(body.Description, c.desc) {
			t.Errorf("%s: %d %s, want %d err %q with %q", c.name, a.code, a.body, c.code, c.err, c.desc)
		}
		if strings.Contains(a.body, "alice") || strings.Contains(a.body, "mallory") {
			t.Errorf("%s: the answer names the user: %s", c.name, a.body)
		}
	}
	if after := e.seqs(); after != before {
		t.Fatalf("refused SETs stored something: streams went from %v to %v", before, after)
	}
	if n := testutil.ToFloat64(e.rcv.m.unmapped.WithLabelValues("idp", "event")); n != 1 {
		t.Errorf("unmapped events counted %v, want 1", n)
	}
	if n := testutil.ToFloat64(e.rcv.m.unmapped.WithLabelValues("idp", "subject")); n != 3 {
		t.Errorf("unmapped subjects counted %v, want 3", n)
	}
	if a := e.push(good); a.code != 202 || a.body != "" {
		t.Fatalf("the good SET after all that: %d %s", a.code, a.body)
	}
}

// Each event type and subject format becomes the rule or revocation the
// README's table says, dated by its event_timestamp (or iat).
func TestPushMapsEveryEvent(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	ts := map[string]any{"event_timestamp": at.Unix()}
	user := func(realm, u string) events.Rule {
		return events.Rule{Scope: events.ScopeRealmUser, Realm: realm, User: u}
	}
	cases := []struct {
		name    string
		event   string
		payload map[string]any
		subject map[string]any
		edit    []func(ssftest.Claims)
		rule    *events.Rule
		jti     *[2]string
		when    time.Time
	}{
		{name: "session-revoked, complex session (Keycloak)", event: ssftest.SessionRevoked, payload: ts,
			subject: map[string]any{"format": "complex", "user": issSub("f81d"), "session": map[string]any{"format": "opaque", "id": "sid-1"}},
			rule:    &events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-1"}, when: at},
		{name: "session-revoked, a top-level sid", event: ssftest.SessionRevoked, payload: ts, subject: issSub("f81d"),
			edit: []func(ssftest.Claims){func(c ssftest.Claims) { c["sid"] = "sid-2" }},
			rule: &events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-2"}, when: at},
		{name: "session-revoked of a user, no session: iat", event: ssftest.SessionRevoked, subject: issSub("u1"),
			edit: []func(ssftest.Claims){func(c ssftest.Claims) { c["iat"] = at.Add(time.Minute).Unix() }},
			rule: ptr(user("acme", "u1")), when: at.Add(time.Minute)},
		{name: "session-revoked of every session (Keycloak's ALL)", event: ssftest.SessionRevoked, payload: ts,
			subject: map[string]any{"format": "complex", "user": issSub("u2"), "session": map[string]any{"format": "opaque", "id": "ALL"}},
			rule:    ptr(user("acme", "u2")), when: at},
		{name: "credential-change", event: ssftest.CredentialChange, payload: ts, subject: issSub("u3"), rule: ptr(user("acme", "u3")), when: at},
		{name: "account-disabled, opaque", event: ssftest.AccountDisabled, payload: ts, subject: map[string]any{"format": "opaque", "id": "u4"},
			rule: ptr(user("acme", "u4")), when: at},
		{name: "account-purged", event: ssftest.AccountPurged, payload: ts, subject: issSub("u5"), rule: ptr(user("acme", "u5")), when: at},
		{name: "credential-compromise", event: ssftest.CredentialCompromise, payload: map[string]any{"event_timestamp": at.Unix(),
			"credential_type": "password"}, subject: issSub("u6"), rule: ptr(user("acme", "u6")), when: at},
		{name: "sessions-revoked", event: ssftest.SessionsRevoked, payload: ts, subject: issSub("u7"), rule: ptr(user("acme", "u7")), when: at},
		{name: "subject in the event (pre-1.0 drafts)", event: ssftest.CredentialChange,
			payload: map[string]any{"event_timestamp": at.Unix(), "subject": issSub("u8")}, rule: ptr(user("acme", "u8")), when: at},
		{name: "complex user without format member", event: ssftest.AccountDisabled, payload: ts,
			subject: map[string]any{"user": issSub("u9"), "device": map[string]any{"format": "opaque", "id": "d"}}, rule: ptr(user("acme", "u9")), when: at},
		{name: "token-claims-change, jwt_id", event: ssftest.TokenClaimsChange, payload: map[string]any{"claims": map[string]any{"role": "x"}},
			subject: map[string]any{"format": "jwt_id", "iss": issuer, "jti": "tok-42"}, jti: &[2]string{issuer, "tok-42"}},
	}
	for _, c := range cases {
		_, set := e.tr.SET(c.event, c.payload, c.subject, c.edit...)
		if a := e.push(set); a.code != 202 {
			t.Errorf("%s: %d %s", c.name, a.code, a.body)
			continue
		}
		if c.jti != nil {
			ev, ok := e.last(events.JTISubject(events.JTIKey(c.jti[0], c.jti[1])))
			if !ok || ev.Kind != events.KindJTI || ev.Realm != "acme" {
				t.Errorf("%s: %+v %v", c.name, ev, ok)
			}
			continue
		}
		ev, ok := e.last(c.rule.Subject())
		if !ok || ev.Rule() != *c.rule || !ev.IssuedBefore.Equal(c.when) {
			t.Errorf("%s: stored %+v (found %v), want %v issued before %v", c.name, ev, ok, *c.rule, c.when)
		}
	}
	// The stream's own verification event is accepted and stores nothing.
	before := e.seqs()
	_, v := e.tr.SET(ssftest.Verification, map[string]any{"state": "abc"}, map[string]any{"format": "opaque", "id": "stream-1"})
	if a := e.push(v); a.code != 202 {
		t.Fatalf("verification: %d %s", a.code, a.body)
	}
	if after := e.seqs(); after[0] != before[0] {
		t.Fatalf("a verification event stored a revocation")
	}
}

func ptr[T any](v T) *T { return &v }

// A realm that names its users by email maps an email subject, and refuses
// an iss_sub one.
func TestEmailSubjectsNeedAnEmailRealm(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.UserClaims = map[string]string{"acme": "email"} })
	_, set := e.tr.SET(ssftest.CredentialChange, nil, map[string]any{"format": "email", "email": "alice@example.com"})
	if a := e.push(set); a.code != 202 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	r := events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "alice@example.com"}
	if _, ok := e.last(r.Subject()); !ok {
		t.Fatal("no rule for the email")
	}
	_, set = e.tr.SET(ssftest.CredentialChange, nil, issSub("f81d"))
	if a := e.push(set); a.code != 400 || !strings.Contains(a.body, `names its users by the \"email\" claim`) {
		t.Fatalf("iss_sub in an email realm: %d %s", a.code, a.body)
	}
}

// A SET delivered again (a transmitter's retry, or a replay by whoever
// captured it) is answered 202 and changes nothing, also from a receiver
// started afterwards (another front, a restart).
func TestReplayedSETChangesNothing(t *testing.T) {
	e := newEnv(t)
	_, set := e.tr.SET(ssftest.CredentialChange, nil, issSub("alice"))
	if a := e.push(set); a.code != 202 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	before := e.seqs()
	for i := 0; i < 3; i++ {
		if a := e.push(set); a.code != 202 || a.body != "" {
			t.Fatalf("replay %d: %d %s", i, a.code, a.body)
		}
	}
	opts := e.opts
	opts.Metrics = nil
	again, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.apply(t.Context(), again.byName["idp"], set, "push"); err != nil {
		t.Fatalf("a restarted receiver: %v", err)
	}
	if after := e.seqs(); after != before {
		t.Fatalf("replays stored something: %v → %v", before, after)
	}
	if n := e.counter("replayed"); n != 3 {
		t.Fatalf("replayed counted %v", n)
	}
}

// A transmitter that rotates its key: a SET under the new kid is refused
// while the JWKS may not be fetched again yet, and accepted once it may;
// fetches stay bounded however many unknown kids arrive.
func TestUnknownKidRefreshesTheJWKSAtABoundedRate(t *testing.T) {
	e := newEnv(t)
	_, set := e.tr.SET(ssftest.CredentialChange, nil, issSub("a"))
	if a := e.push(set); a.code != 202 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	k2 := ssftest.NewKey(t, "k2", jose.RS256)
	e.tr.Rotate(k2, true)
	_, rotated := e.tr.SET(ssftest.CredentialChange, nil, issSub("b"))
	bogus := ssftest.SignWith(t, ssftest.NewKey(t, "k-never", jose.ES256), ssftest.Claims{"iss": issuer, "aud": audience,
		"iat": time.Now().Unix(), "jti": "nope", "events": map[string]any{ssftest.CredentialChange: map[string]any{}}}, "secevent+jwt")
	fetches := e.tr.JWKSFetches()
	for i := 0; i < 20; i++ {
		if a := e.push(bogus); a.code != 400 || !strings.Contains(a.body, "invalid_key") {
			t.Fatalf("a kid nobody published: %d %s", a.code, a.body)
		}
	}
	if n := e.tr.JWKSFetches() - fetches; n > 1 {
		t.Fatalf("20 unknown kids fetched the JWKS %d times within the minimum interval", n)
	}
	natstest.Eventually(t, 10*time.Second, "the rotated key accepted after a refresh", func() bool {
		return e.push(rotated).code == 202
	})
}

// What never verifies: a JWKS whose only keys are symmetric or too short,
// or a configuration that names none or HMAC.
func TestKeysAndAlgorithmsRefused(t *testing.T) {
	if _, err := parseJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`), Algorithms); err == nil {
		t.Error("a symmetric JWKS is usable")
	}
	for _, alg := range []string{"none", "HS256", "RS384"} {
		err := ValidateTransmitters([]TransmitterConfig{{Name: "x", Issuer: "https://i", JWKSURI: "https://i/jwks", Audience: "a",
			Realms: []string{"r"}, Algorithms: []string{alg}, BackchannelLogout: &LogoutConfig{Audiences: []string{"c"}}}})
		if err == nil || !strings.Contains(err.Error(), alg) {
			t.Errorf("algorithm %s: %v", alg, err)
		}
	}
	err := ValidateTransmitters([]TransmitterConfig{{Name: "bad name", Issuer: "", JWKSURI: "http://idp.example/jwks",
		Realms: nil, Push: &PushConfig{BearerTokenHash: "plain"}, Poll: &PollConfig{URL: "ftp://x"}}})
	for _, want := range []string{"name must be", "issuer must be", "https", "realms lists no realm", "push or poll, not both",
		"audience", "bearer_token_hash", "poll.url", "bearer_token_file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("every problem at once: %q missing from %v", want, err)
		}
	}
}
