//go:build !race

package auth

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Seen: a wrong password for a bcrypt user took about 111 ms, an unknown id
// about 51 ms (the argon2id dummy), so the 401 told which ids exist. An
// unknown id is now hashed against a dummy of the configured users' cost.
// Timed without the race detector (it slows bcrypt twentyfold).
func TestUnknownIDTakesAsLongAsABcryptUser(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("right"), 10)
	if err != nil {
		t.Fatal(err)
	}
	s := mustStore(t, Config{FailureBurst: 1000, Credentials: []Credential{
		{Kind: KindUser, ID: "elastic", SecretHash: string(bc), Allow: []string{"*"}, Realms: []string{"*"}},
		client("argon-client", mustHash(t, "right")), // another kind, another cost
	}})
	timed := func(peer string, c Creds) time.Duration {
		start := time.Now()
		if _, err := s.Authenticate(KindUser, peer, c); err != ErrBadCredentials {
			t.Fatalf("%v: %v", c, err)
		}
		return time.Since(start)
	}
	var known, unknown []time.Duration
	for i := range 15 {
		peer := fmt.Sprintf("192.0.2.%d", i)
		known = append(known, timed(peer, Creds{"elastic", "wrong"}))
		unknown = append(unknown, timed(peer, Creds{fmt.Sprint("nobody", i), "wrong"}))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	mk, mu := known[len(known)/2], unknown[len(unknown)/2]
	t.Logf("wrong password for a bcrypt user: min %v median %v max %v", known[0], mk, known[len(known)-1])
	t.Logf("unknown id:                       min %v median %v max %v", unknown[0], mu, unknown[len(unknown)-1])
	if d := max(mk, mu) - min(mk, mu); float64(d) > 0.35*float64(max(mk, mu)) {
		t.Fatalf("medians %v and %v differ by more than 35%%: a 401's timing tells whether the user exists", mk, mu)
	}
}
