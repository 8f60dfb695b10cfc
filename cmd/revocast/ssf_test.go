package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/internal/jwttest"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/internal/ssftest"
	"github.com/revocast/revocast/publisher/auth"
	"github.com/revocast/revocast/subscriber"
)

const (
	ssfAudience = "https://revocast.test/ssf"
	ssfPushKey  = "push-token-of-the-test-idp"
	logoutAud   = "revocast"
)

// ssfSystem is a front whose config file names two transmitters: one
// pushing for realm acme, one polled for realm globex; and two sidecars
// built from the same config.
type ssfSystem struct {
	*system
	push, poll *ssftest.Transmitter
	sides      []*subscriber.Subscriber
}

// newSSFSystem builds it; realmExtra is added to acme's realm entry (a
// user_claim).
func newSSFSystem(t testing.TB, realmExtra string) *ssfSystem {
	t.Helper()
	push := ssftest.New(t, "https://kc.test/realms/acme", ssfAudience)
	poll := ssftest.New(t, "https://kc.test/realms/globex", ssfAudience)
	t.Setenv("REVOCAST_TEST_POLL_TOKEN", poll.PollToken)
	h, err := auth.HashSecret(ssfPushKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]byte(fmt.Sprintf(`
realms:
  - {name: acme, issuers: [%s]%s}
  - {name: globex, issuers: [%s]}
transmitters:
  - name: kc-acme
    issuer: %s
    jwks_uri: %s
    jwks_min_refresh: 1s
    audience: %s
    realms: [acme]
    push: {bearer_token_hash: '%s'}
    backchannel_logout: {audiences: [%s]}
  - name: kc-globex
    issuer: %s
    jwks_uri: %s
    audience: %s
    algorithms: [ES256]
    realms: [globex]
    poll: {url: %s, bearer_token_env: REVOCAST_TEST_POLL_TOKEN, max_events: 10, timeout: 5s}
`, push.Issuer, realmExtra, poll.Issuer, push.Issuer, push.JWKSURL(), ssfAudience, h, logoutAud,
		poll.Issuer, poll.JWKSURL(), ssfAudience, poll.PollURL())))
	if err != nil {
		t.Fatal(err)
	}
	s := &ssfSystem{system: newSystemWith(t, cfg), push: push, poll: poll}
	for _, id := range []string{"side-a", "side-b"} {
		s.sides = append(s.sides, s.addConfiguredSidecar(id, cfg))
	}
	return s
}

// addConfiguredSidecar runs a sidecar as cmd/revocast builds it from cfg
// (the issuer→realm map and the user claims).
func (s *system) addConfiguredSidecar(id string, cfg *config) *subscriber.Subscriber {
	s.t.Helper()
	c, _ := defaultOpts()
	o := subOpts{id: id, capacity: 100_000, maxStaleness: time.Minute, stalePolicy: "deny", heartbeat: 100 * time.Millisecond}
	log := zerolog.Nop()
	if os.Getenv("REVOCAST_TEST_LOG") == "1" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Str("sidecar", id).Logger()
	}
	sc, err := newSidecar(c, o, cfg, natstest.Connect(s.t, s.ns), log, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- sc.run(ctx)() }()
	s.t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			s.t.Errorf("sidecar %s: %v", id, err)
		}
	})
	waitFor(s.t, id+" ready and seen by the front", func() bool {
		return sc.sub.Status().Ready && contains(s.front.tracker.Live(), id)
	})
	return sc.sub
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// verdicts returns what every sidecar says of tok.
func (s *ssfSystem) verdicts(tok string) []subscriber.Decision {
	var out []subscriber.Decision
	for _, side := range s.sides {
		out = append(out, side.Check(tok))
	}
	return out
}

func (s *ssfSystem) all(tok string, want subscriber.Verdict) bool {
	for _, d := range s.verdicts(tok) {
		if d.Verdict != want {
			return false
		}
	}
	return true
}

// pushSET pushes a SET as the acme transmitter does.
func (s *ssfSystem) pushSET(set string) response {
	s.t.Helper()
	return httpDo(s.t, "POST", s.url+"/ssf/events", "application/secevent+jwt", set, "Authorization", "Bearer "+ssfPushKey)
}

// deliver sends a SET from tr: pushed (acme) or enqueued for the poller
// (globex) and waited for until acknowledged.
func (s *ssfSystem) deliver(t *testing.T, tr *ssftest.Transmitter, jti, set string) {
	t.Helper()
	if tr == s.push {
		if r := s.pushSET(set); r.code != 202 {
			t.Fatalf("push: %d %s", r.code, r.body)
		}
		return
	}
	tr.Enqueue(set)
	waitFor(t, "the poller acknowledges "+jti, func() bool { return tr.Acked()[jti] == 1 })
	if errs := tr.SetErrs(); len(errs) > 0 {
		t.Fatalf("setErrs %v", errs)
	}
}

// accessToken is an access token the identity provider issued: a real
// ES256 JWT.
func accessToken(t testing.TB, iss, sub, sid string, iat time.Time, extra ...string) string {
	c := jwt.MapClaims{"iss": iss, "sub": sub, "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(),
		"jti": fmt.Sprintf("at-%d", time.Now().UnixNano())}
	if sid != "" {
		c["sid"] = sid
	}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i]] = extra[i+1]
	}
	return jwttest.ES256(t, idpKey(), c)
}

// idpKey signs the access tokens (their signature is the resource server's
// business; the sidecars read their claims).
var idpKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// Every event type, pushed and polled, ends with the JWTs it names (and
// the user's registered opaque tokens) denied by both sidecars, and
// nothing else: another session of the user, another user, a token issued
// after the event.
func TestSSFEveryEventDeniesOnEverySidecar(t *testing.T) {
	s := newSSFSystem(t, "")
	issSub := func(tr *ssftest.Transmitter, u string) map[string]any {
		return map[string]any{"format": "iss_sub", "iss": tr.Issuer, "sub": u}
	}
	userEvents := []string{ssftest.CredentialChange, ssftest.AccountDisabled, ssftest.AccountPurged,
		ssftest.CredentialCompromise, ssftest.SessionsRevoked, ssftest.SessionRevoked}
	for _, tr := range []*ssftest.Transmitter{s.push, s.poll} {
		realm, how := "acme", "push"
		if tr == s.poll {
			realm, how = "globex", "poll"
		}
		iat := time.Now().Add(-time.Minute)
		for i, ev := range userEvents {
			name := fmt.Sprintf("%s/%s", how, ev[strings.LastIndex(ev, "/")+1:])
			t.Run(name+"/user", func(t *testing.T) {
				user := fmt.Sprintf("%s-user-%d", how, i)
				mine := accessToken(t, tr.Issuer, user, "s1", iat)
				other := accessToken(t, tr.Issuer, user+"-other", "s1", iat)
				opaque := fmt.Sprintf("opaque-%s-%d", how, i)
				register(t, s.url, []string{tokenLine(opaque, "access_token", realm, user, "app", "", time.Hour)})
				if !s.all(mine, subscriber.Allowed) || !s.all(opaque, subscriber.Allowed) {
					t.Fatal("denied before the event")
				}
				at := time.Now()
				later := accessToken(t, tr.Issuer, user, "s2", at.Add(2*time.Second))
				payload := map[string]any{"event_timestamp": at.Unix()}
				if ev == ssftest.CredentialCompromise {
					payload["credential_type"] = "password"
				}
				jti, set := tr.SET(ev, payload, issSub(tr, user))
				s.deliver(t, tr, jti, set)
				if !s.all(mine, subscriber.Revoked) || !s.all(opaque, subscriber.Revoked) {
					t.Fatalf("after the event: the user's JWT %v, opaque %v", s.verdicts(mine), s.verdicts(opaque))
				}
				if !s.all(other, subscriber.Allowed) || !s.all(later, subscriber.Allowed) {
					t.Fatalf("another user's JWT %v, a JWT issued after the event %v", s.verdicts(other), s.verdicts(later))
				}
			})
		}
		t.Run(how+"/session-revoked/session", func(t *testing.T) {
			user := how + "-session-user"
			mine := accessToken(t, tr.Issuer, user, how+"-sid-1", iat)
			sibling := accessToken(t, tr.Issuer, user, how+"-sid-2", iat)
			jti, set := tr.SET(ssftest.SessionRevoked, map[string]any{"event_timestamp": time.Now().Unix()},
				map[string]any{"format": "complex", "user": issSub(tr, user), "session": map[string]any{"format": "opaque", "id": how + "-sid-1"}})
			s.deliver(t, tr, jti, set)
			if !s.all(mine, subscriber.Revoked) {
				t.Fatalf("the session's JWT: %v", s.verdicts(mine))
			}
			if !s.all(sibling, subscriber.Allowed) {
				t.Fatalf("the user's other session: %v", s.verdicts(sibling))
			}
		})
		t.Run(how+"/token-claims-change/jwt_id", func(t *testing.T) {
			user := how + "-claims-user"
			mine := accessToken(t, tr.Issuer, user, "", iat)
			sibling := accessToken(t, tr.Issuer, user, "", iat)
			c, _ := jwtClaimsOf(mine)
			jti, set := tr.SET(ssftest.TokenClaimsChange, map[string]any{"claims": map[string]any{"role": "reader"}},
				map[string]any{"format": "jwt_id", "iss": tr.Issuer, "jti": c})
			s.deliver(t, tr, jti, set)
			if !s.all(mine, subscriber.Revoked) || !s.all(sibling, subscriber.Allowed) {
				t.Fatalf("the JWT %v, the user's other JWT %v", s.verdicts(mine), s.verdicts(sibling))
			}
		})
	}
}

// jwtClaimsOf returns a JWT's jti.
func jwtClaimsOf(tok string) (string, error) {
	var c jwt.MapClaims
	_, _, err := jwt.NewParser().ParseUnverified(tok, &c)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(c["jti"]), nil
}

// A back-channel logout token with sid revokes that session's JWTs on
// both sidecars, and not the user's other sessions; one with sub alone
// revokes the user.
func TestSSFBackchannelLogoutDeniesTheSession(t *testing.T) {
	s := newSSFSystem(t, "")
	iat := time.Now().Add(-time.Minute)
	mine := accessToken(t, s.push.Issuer, "carol", "kc-session-1", iat)
	sibling := accessToken(t, s.push.Issuer, "carol", "kc-session-2", iat)
	r := httpDo(t, "POST", s.url+"/oidc/backchannel-logout", "application/x-www-form-urlencoded",
		url.Values{"logout_token": {s.push.LogoutToken(logoutAud, "kc-session-1", "carol")}}.Encode())
	if r.code != 200 {
		t.Fatalf("logout: %d %s", r.code, r.body)
	}
	if !s.all(mine, subscriber.Revoked) || !s.all(sibling, subscriber.Allowed) {
		t.Fatalf("the logged-out session %v, the other session %v", s.verdicts(mine), s.verdicts(sibling))
	}
	r = httpDo(t, "POST", s.url+"/oidc/backchannel-logout", "application/x-www-form-urlencoded",
		url.Values{"logout_token": {s.push.LogoutToken(logoutAud, "", "carol")}}.Encode())
	if r.code != 200 || !s.all(sibling, subscriber.Revoked) {
		t.Fatalf("logout by sub: %d %s, the other session %v", r.code, r.body, s.verdicts(sibling))
	}
}

// A realm whose users are named by email: an SSF email subject denies the
// JWTs carrying that email (whatever their sub) and the opaque tokens
// registered under it.
func TestSSFEmailSubjectInAnEmailRealm(t *testing.T) {
	s := newSSFSystem(t, ", user_claim: email")
	iat := time.Now().Add(-time.Minute)
	mine := accessToken(t, s.push.Issuer, "f81d4fae", "s", iat, "email", "dave@example.com")
	other := accessToken(t, s.push.Issuer, "dave@example.com", "s", iat, "email", "erin@example.com")
	register(t, s.url, []string{tokenLine("opaque-dave", "access_token", "acme", "dave@example.com", "app", "", time.Hour)})
	jti, set := s.push.SET(ssftest.AccountDisabled, nil, map[string]any{"format": "email", "email": "dave@example.com"})
	s.deliver(t, s.push, jti, set)
	if !s.all(mine, subscriber.Revoked) || !s.all("opaque-dave", subscriber.Revoked) || !s.all(other, subscriber.Allowed) {
		t.Fatalf("dave's JWT %v, dave's opaque token %v, a JWT whose sub is dave's email %v",
			s.verdicts(mine), s.verdicts("opaque-dave"), s.verdicts(other))
	}
}
