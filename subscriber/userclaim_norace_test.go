//go:build !race

package subscriber

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwttest"
)

// A realm that names its users by sub allocates no more per check when
// another realm has a user_claim; only that realm's tokens pay for reading
// the claim.
func TestUserClaimsCostNothingForSubRealms(t *testing.T) {
	s := fuzzSubscriber(t)
	s.rules.Add(events.Rule{Scope: events.ScopeRealmUser, Realm: "acme", User: "nobody"}, time.Now(), time.Now().Add(time.Hour))
	key := jwttest.Key(t)
	plain := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://plain", "sub": "alice", "sid": "s", "iat": time.Now().Unix()})
	mapped := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://acme", "sub": "f81d", "email": "a@b", "iat": time.Now().Unix()})
	base := testing.AllocsPerRun(200, func() { s.Check(plain) })
	s.cfg.IssuerRealms = map[string]string{"https://acme": "acme"}
	s.cfg.UserClaims = map[string]string{"acme": "email"}
	if n := testing.AllocsPerRun(200, func() { s.Check(plain) }); n > base {
		t.Fatalf("a sub realm's check allocates %v times with user claims configured elsewhere, %v without", n, base)
	}
	if n := testing.AllocsPerRun(200, func() { s.Check(mapped) }); n <= base {
		t.Logf("an email realm's check allocates %v (sub realm: %v)", n, base)
	}
}
