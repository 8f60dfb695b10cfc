package subscriber

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwttest"
	"github.com/revocast/revocast/internal/natstest"
)

// Seen: a revoked JWT presented with its signature re-encoded (unused
// base64url bits) or replaced by its ECDSA high-s twin answered 204. Every
// spelling golang-jwt accepts is denied, through the Go API and HTTP.
func TestEverySpellingOfARevokedJWTIsDenied(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	key := jwttest.Key(t)
	tok := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example", "sub": "alice",
		"exp": time.Now().Add(time.Hour).Unix()})
	e.append(t, revokeToken(tok))
	natstest.Eventually(t, 5*time.Second, "revocation applied", func() bool { return s.Check(tok).Verdict == Revoked })
	h := s.Handler(nil)
	for name, spelling := range map[string]string{"re-encoded": jwttest.Reencoded(t, tok), "high-s twin": jwttest.HighS(t, tok)} {
		if err := jwttest.Verify(spelling, key); err != nil {
			t.Fatalf("golang-jwt refuses the %s spelling, so the test proves nothing: %v", name, err)
		}
		if d := s.Check(spelling); d.Verdict != Revoked {
			t.Errorf("%s: Check = %+v", name, d)
		}
		if w := get(h, "/v1/check", "Bearer "+spelling); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: GET /v1/check = %d", name, w.Code)
		}
	}
	other := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example", "sub": "bob"})
	if d := s.Check(other); d.Verdict != Allowed {
		t.Errorf("another JWT: %+v", d)
	}
}

// A revocation stored before schema 2, under the SHA-256 of the token's
// text, is still honoured for that spelling.
func TestLegacyWholeTokenKeysAreHonoured(t *testing.T) {
	e := newEnv(t)
	key := jwttest.Key(t)
	tok := jwttest.ES256(t, key, jwt.MapClaims{"sub": "alice"})
	ev := events.NewTokenRevocation(events.LegacyTokenKey(tok), events.AccessToken, time.Now().Add(time.Hour), time.Now())
	ev.Version = events.LegacyKeyVersion
	e.append(t, ev)
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	if d := s.Check(tok); d.Verdict != Revoked {
		t.Fatalf("legacy revocation not honoured: %+v", d)
	}
	if events.TokenKey(tok) == events.LegacyTokenKey(tok) {
		t.Fatal("the keys are equal: the test proves nothing")
	}
}

// A JWT revoked by issuer and JWT ID, without the token, is denied in
// every spelling; a JWT with another jti or issuer is not.
func TestJWTIDRevocation(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	key := jwttest.Key(t)
	claims := jwt.MapClaims{"iss": "https://idp.example", "sub": "alice", "jti": "id-42"}
	tok := jwttest.ES256(t, key, claims)
	if s.Check(tok).Verdict != Allowed {
		t.Fatal("denied before the revocation")
	}
	e.append(t, events.NewJTIRevocation(events.JTIKey("https://idp.example", "id-42"), time.Now().Add(time.Hour), time.Now()))
	natstest.Eventually(t, 5*time.Second, "JWT ID revocation applied", func() bool { return s.Check(tok).Verdict == Revoked })
	if d := s.Check(jwttest.HighS(t, tok)); d.Verdict != Revoked || d.Reason != reasonJTI {
		t.Errorf("high-s twin: %+v", d)
	}
	for _, c := range []jwt.MapClaims{
		{"iss": "https://idp.example", "sub": "alice", "jti": "id-43"},
		{"iss": "https://other.example", "sub": "alice", "jti": "id-42"},
	} {
		if d := s.Check(jwttest.ES256(t, key, c)); d.Verdict != Allowed {
			t.Errorf("%v: %+v", c, d)
		}
	}
	if d := s.CheckSum(events.TokenKey("opaque"), &Claims{Issuer: "https://idp.example", JTI: "id-42"}); d.Verdict != Revoked {
		t.Errorf("explicit claims: %+v", d)
	}
}

// Defense in depth: whoever wrote an event, it cannot outlive
// --max-token-lifetime nor reach tokens issued in the future.
func TestEventsAreClampedOnArrival(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{MaxTokenLifetime: time.Hour}, nil)
	waitReady(t, s)
	future := events.NewRule(events.Rule{Scope: events.ScopeRealm, Realm: "r"}, time.Now().AddDate(100, 0, 0), 200*365*24*time.Hour)
	e.append(t, future)
	natstest.Eventually(t, 5*time.Second, "rule applied", func() bool { return s.rules.Len() == 1 })
	issued := time.Now().Add(2 * events.MaxClockSkew)
	if _, hit := s.rules.Match("r", "u", "", issued); hit {
		t.Error("a rule dated 100 years ahead revokes tokens issued after now")
	}
	if _, hit := s.rules.Match("r", "u", "", time.Now().Add(-time.Second)); !hit {
		t.Error("the clamped rule does not revoke tokens issued before now")
	}
	if got := testCounter(t, s.m.clamped); got != 1 {
		t.Errorf("clamped counter = %v", got)
	}
}

func testCounter(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// Seen: a sidecar with --cache-capacity 1000 given 3,000 revocations of
// realm A evicted unexpired ones, and restarted under --stale-policy allow
// it let 67 of 100 revoked realm-B tokens through. Now nothing is evicted,
// what does not fit is kept aside or counted lost, and a sidecar that lost a
// revocation denies every check (503) under either policy.
func TestOverCapacityNeverFailsOpen(t *testing.T) {
	for _, policy := range []StalePolicy{PolicyAllow, PolicyDeny} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnv(t)
			exp := time.Now().Add(time.Hour)
			var items []events.TokenItem
			for i := 0; i < 3000; i++ {
				items = append(items, events.TokenItem{Token: events.TokenKey(fmt.Sprint("realm-a-", i)), ExpiresAt: exp})
			}
			for b := 0; b*events.MaxBatch < len(items); b++ {
				e.append(t, events.NewTokenBatch("req-a", b, items[b*events.MaxBatch:min(len(items), (b+1)*events.MaxBatch)], time.Now()))
			}
			for i := 0; i < 100; i++ {
				e.append(t, revokeToken(fmt.Sprint("realm-b-", i)))
			}
			dc, err := cache.New(cache.Config{Capacity: 1000})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(dc.Close)
			s := startSub(t, e, Config{StalePolicy: policy}, dc)
			natstest.Eventually(t, 10*time.Second, "the replay to reach the last event", func() bool {
				return s.applied.Load() >= 3000/events.MaxBatch+100
			})
			for i := 0; i < 100; i++ {
				if d := s.Check(fmt.Sprint("realm-b-", i)); d.Verdict == Allowed {
					t.Fatalf("revoked realm-B token %d allowed: %+v", i, d)
				}
			}
			if d := s.Check("never-revoked"); d.Verdict != Unavailable {
				t.Fatalf("an over-capacity sidecar vouched for a token: %+v", d)
			}
			if w := get(s.Handler(nil), "/readyz", ""); w.Code != 503 || !strings.Contains(w.Body.String(), "did not fit") {
				t.Fatalf("/readyz %d %s", w.Code, w.Body)
			}
			if dc.Stats().UnexpiredEvictions != 0 {
				t.Fatalf("%d unexpired evictions", dc.Stats().UnexpiredEvictions)
			}
		})
	}
}

// A rebuild empties every piece of state and replays the stream: the sidecar
// fails closed meanwhile and denies everything again afterwards.
func TestRebuildReplaysFromTheStart(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 50; i++ {
		e.append(t, revokeToken(fmt.Sprint("tok-", i)))
	}
	e.append(t, events.NewRule(events.Rule{Scope: events.ScopeUser, User: "alice"}, time.Now(), time.Hour))
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	s.requestRebuild("test")
	natstest.Eventually(t, 5*time.Second, "the rebuild to start", func() bool { return testCounter(t, s.m.rebuilds) == 1 })
	waitReady(t, s)
	for i := 0; i < 50; i++ {
		if d := s.Check(fmt.Sprint("tok-", i)); d.Verdict != Revoked {
			t.Fatalf("tok-%d after the rebuild: %+v", i, d)
		}
	}
	if d := s.CheckSum(events.TokenKey("x"), &Claims{Subject: "alice"}); d.Verdict != Revoked {
		t.Fatalf("rule after the rebuild: %+v", d)
	}
}

// Seen: the stream was deleted and re-created and a running sidecar, ready
// and healthy, allowed 5 of 7 new revocations: its ordered consumer resumed
// after its old sequence. It notices the new stream and replays it.
func TestRecreatedStreamIsReplayedFromTheStart(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 20; i++ {
		e.append(t, revokeToken(fmt.Sprint("old-", i)))
	}
	s := startSub(t, e, Config{HeartbeatInterval: 50 * time.Millisecond}, nil)
	waitReady(t, s)
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, events.DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	if _, err := events.EnsureStream(ctx, e.js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	var fresh []string
	for i := 0; i < 7; i++ {
		tok := fmt.Sprint("new-", i)
		fresh = append(fresh, tok)
		e.append(t, revokeToken(tok))
	}
	natstest.Eventually(t, 10*time.Second, "every new revocation denied", func() bool {
		for _, tok := range fresh {
			if s.Check(tok).Verdict != Revoked {
				return false
			}
		}
		return true
	})
	if n := testCounter(t, s.m.rebuilds); n != 1 {
		t.Fatalf("%v rebuilds, want 1", n)
	}
}
