package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// argon2id parameters for new hashes: OWASP's recommendation (19 MiB, 2
// passes, 1 lane), about 30 ms here.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
	// MaxSecretLen bounds secrets (bcrypt reads at most 72 bytes anyway).
	MaxSecretLen = 1024
)

// ErrNotHashed is returned for a configured secret that is not an argon2id
// or bcrypt hash.
var ErrNotHashed = errors.New("not an argon2id ($argon2id$...) or bcrypt ($2a$/$2b$/$2y$...) hash: run 'revocast hash-secret'")

// HashSecret returns an argon2id hash of secret in PHC string format.
func HashSecret(secret string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64(salt), b64(key)), nil
}

// GenerateSecret returns a random secret of 32 URL-safe characters.
func GenerateSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func parseArgon(h string) (*argonHash, error) {
	parts := strings.Split(h, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, ErrNotHashed
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, fmt.Errorf("argon2id version %q: %w", parts[2], ErrNotHashed)
	}
	a := &argonHash{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &a.memory, &a.time, &a.threads); err != nil {
		return nil, fmt.Errorf("argon2id parameters %q: %w", parts[3], ErrNotHashed)
	}
	if a.memory < 8*1024 || a.memory > 256*1024 || a.time < 1 || a.time > 10 || a.threads < 1 || a.threads > 16 {
		return nil, fmt.Errorf("argon2id parameters %q out of range (m 8192..262144, t 1..10, p 1..16): %w", parts[3], ErrNotHashed)
	}
	var err error
	if a.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return nil, fmt.Errorf("argon2id salt: %w", ErrNotHashed)
	}
	if a.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(a.key) < 16 || len(a.key) > 64 {
		return nil, fmt.Errorf("argon2id key: %w", ErrNotHashed)
	}
	return a, nil
}

// ValidHash checks that h is a hash VerifySecret can use.
func ValidHash(h string) error {
	switch {
	case strings.HasPrefix(h, "$argon2id$"):
		_, err := parseArgon(h)
		return err
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return fmt.Errorf("bcrypt: %w", ErrNotHashed)
		}
		return nil
	}
	return ErrNotHashed
}

// VerifySecret reports whether secret matches hash, in time independent of
// where they differ.
func VerifySecret(hash, secret string) bool {
	if len(secret) > MaxSecretLen {
		return false
	}
	if strings.HasPrefix(hash, "$argon2id$") {
		a, err := parseArgon(hash)
		if err != nil {
			return false
		}
		key := argon2.IDKey([]byte(secret), a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
		return subtle.ConstantTimeCompare(key, a.key) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}
