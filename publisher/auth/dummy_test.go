package auth

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// A dummy has the scheme and parameters of the hash it stands for, is a
// valid hash, and matches no secret.
func TestDummyLike(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("x"), 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{mustHash(t, "x"), cheapHash(t, "x"), string(bc)} {
		d := dummyLike(h)
		if err := ValidHash(d); err != nil || costOf(d) != costOf(h) || d == dummyLike(h) || VerifySecret(d, "x") || VerifySecret(d, "") {
			t.Errorf("dummyLike(%s) = %s (%v): cost %q, want %q", h, d, err, costOf(d), costOf(h))
		}
	}
	if c := costOf(string(bc)); c != "bcrypt 7" {
		t.Errorf("costOf(bcrypt) = %q", c)
	}
	if c := costOf(mustHash(t, "x")); c != "argon2id m=19456 t=2 p=1 salt=16 key=32" {
		t.Errorf("costOf(argon2id) = %q", c)
	}
}

// Unknown ids are hashed against dummies in the proportions the kind's
// principals use each cost, the same dummy for the same id; a kind without
// principals gets every kind's mixture, a store without any the default cost.
func TestUnknownIDsFollowTheMixture(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	argon := cheapHash(t, "x")
	s := mustStore(t, Config{Credentials: []Credential{client("a", string(bc)), client("b", string(bc)),
		client("c", string(bc)), client("d", argon),
		{Kind: KindUser, ID: "u", SecretHash: argon, Allow: []string{"*"}, Realms: []string{"*"}}}})
	const n = 4000
	bcrypts := 0
	for i := range n {
		id := fmt.Sprint("nobody", i)
		d := s.dummyFor(KindClient, id)
		if d != s.dummyFor(KindClient, id) {
			t.Fatal("one id, two dummies")
		}
		if strings.HasPrefix(d, "$2a$04$") {
			bcrypts++
		} else if costOf(d) != costOf(argon) {
			t.Fatalf("dummy %s is of no configured cost", d)
		}
	}
	if share := float64(bcrypts) / n; math.Abs(share-0.75) > 0.04 {
		t.Errorf("%.3f of unknown ids hashed like bcrypt, want 0.75 (3 of 4 clients)", share)
	}
	if d := s.dummyFor(KindUser, "nobody"); costOf(d) != costOf(argon) {
		t.Errorf("user dummy %s, want the one user's cost", d)
	}
	if d := s.dummyFor(KindAPIKey, "nobody"); costOf(d) != costOf(argon) && !strings.HasPrefix(d, "$2a$04$") {
		t.Errorf("api key dummy without api keys %s, want one of the configured costs", d)
	}
	if d := mustStore(t, Config{}).dummyFor(KindClient, "nobody"); costOf(d) != costOf(mustHash(t, "x")) {
		t.Errorf("dummy without principals %s, want the default cost", d)
	}
	if d := s.dummyFor(KindClient, "d"); costOf(d) != costOf(argon) {
		t.Errorf("a known id's dummy %s, want its own cost", d)
	}
}
