package jwttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Key returns a fresh P-256 key.
func Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ES256 signs claims with key.
func ES256(t testing.TB, key *ecdsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Verify reports whether golang-jwt's default parser accepts tok under key.
func Verify(tok string, key *ecdsa.PrivateKey) error {
	_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
	return err
}

// ReencodeSegment flips an unused low bit of a base64url segment's last
// character: the text differs, the decoded bytes do not.
func ReencodeSegment(t testing.TB, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if (6*len(seg))%8 == 0 {
		t.Fatalf("a segment of %d characters has no unused bits", len(seg))
	}
	v := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[v^1])
}

// Reencoded returns tok with its signature segment re-encoded.
func Reencoded(t testing.TB, tok string) string {
	t.Helper()
	p := strings.Split(tok, ".")
	p[2] = ReencodeSegment(t, p[2])
	return strings.Join(p, ".")
}

// HighS returns tok with its ES256 signature (r, s) replaced by (r, n-s).
func HighS(t testing.TB, tok string) string {
	t.Helper()
	p := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(p[2])
	if err != nil || len(raw) != 64 {
		t.Fatalf("not an ES256 signature: %v (%d bytes)", err, len(raw))
	}
	s := new(big.Int).SetBytes(raw[32:])
	s.Sub(elliptic.P256().Params().N, s)
	sig := append(append([]byte{}, raw[:32]...), s.FillBytes(make([]byte, 32))...)
	p[2] = base64.RawURLEncoding.EncodeToString(sig)
	return strings.Join(p, ".")
}
