package auth

import (
	"encoding/base64"
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheapHash is an argon2id hash at the lowest cost accepted, so tests that
// hash many times stay quick (the race detector slows hashing tenfold).
func cheapHash(t testing.TB, secret string) string {
	t.Helper()
	salt := random(16)
	key := argon2.IDKey([]byte(secret), salt, 1, 8*1024, 1, 32)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=1$%s$%s", b64(salt), b64(key))
}

func client(id, secret string) Credential {
	return Credential{Kind: KindClient, ID: id, SecretHash: secret, Allow: []string{"*"}, Realms: []string{"*"}}
}

func mustStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
