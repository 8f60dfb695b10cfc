package ssf

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MaxTokenLen bounds a SET or a logout token.
const MaxTokenLen = 64 << 10

// header holds the protected header members revocast checks.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// peekHeader reads the protected header of a compact JWS without verifying
// anything.
func peekHeader(tok string) (header, *Error) {
	var h header
	parts := strings.Split(tok, ".")
	switch {
	case len(tok) > MaxTokenLen:
		return h, refuse(CodeInvalidRequest, "the token is longer than %d bytes", MaxTokenLen)
	case len(parts) == 5:
		return h, refuse(CodeInvalidRequest, "an encrypted token (JWE) is not accepted: sign it (JWS)")
	case len(parts) != 3:
		return h, refuse(CodeInvalidRequest, "not a JWS in compact serialization (three base64url parts)")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(b, &h) != nil {
		return h, refuse(CodeInvalidRequest, "the JWS header is not base64url-encoded JSON")
	}
	return h, nil
}

// checkAlg refuses what is never accepted (none, HMAC) and what the
// transmitter does not sign with.
func checkAlg(alg string, algs []string) *Error {
	switch {
	case strings.EqualFold(alg, "none"):
		return refuse(CodeInvalidKey, "alg none: an unsigned token is never accepted (sign with %s)", strings.Join(algs, ", "))
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return refuse(CodeInvalidKey, "alg %s: HMAC (a shared secret) is never accepted (sign with %s)", quote(alg), strings.Join(algs, ", "))
	case !slices.Contains(algs, alg):
		return refuse(CodeInvalidKey, "alg %s is not one this transmitter signs with (%s)", quote(alg), strings.Join(algs, ", "))
	}
	return nil
}

// verifyJWS checks a compact JWS's algorithm, finds the transmitter's key
// and verifies the signature; it returns the payload and the header.
func verifyJWS(ctx context.Context, ks *keySet, algs []string, tok string) ([]byte, header, *Error) {
	h, e := peekHeader(tok)
	if e != nil {
		return nil, h, e
	}
	if e := checkAlg(h.Alg, algs); e != nil {
		return nil, h, e
	}
	sa := make([]jose.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		sa[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(tok, sa)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, h, refuse(CodeInvalidRequest, "not a JWS in compact serialization")
	}
	keys, err := ks.candidates(ctx, h.Kid, h.Alg)
	if err != nil {
		return nil, h, refuse(CodeInvalidKey, "%s", err.Error())
	}
	for i := range keys {
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, h, nil
		}
	}
	return nil, h, refuse(CodeInvalidKey, "the signature does not verify with the transmitter's %s key %s", h.Alg, quote(h.Kid))
}

// numericDate reads a JWT NumericDate; ok is false for anything else
// (a string, a value that is not finite or out of range).
func numericDate(raw json.RawMessage) (time.Time, bool) {
	var f float64
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// audiences reads aud: one string or an array of strings.
func audiences(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) > 16 {
		return nil, errors.New("aud must be a string or an array of at most 16 strings")
	}
	return many, nil
}

// typIs reports whether a typ header names want (with or without the
// application/ prefix, case-insensitive, as RFC 7515 section 4.1.9 allows).
func typIs(typ, want string) bool {
	return strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), want)
}
