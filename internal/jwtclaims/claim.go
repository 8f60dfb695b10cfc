package jwtclaims

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/revocast/revocast/events"
)

// Claim returns the string value of the top-level claim name of a JWS
// compact JWT, read without verifying it: "" when the claim is absent or
// not a string. Names are matched exactly (Parse's known claims are not).
//
// It decodes the payload again, so it is for the one claim Parse does not
// read that a caller needs: a realm's configured user claim
// (preferred_username, email). Realms that name their users by sub never
// call it, so the check path allocates no more for them than before.
func Claim(token, name string) (string, error) {
	if len(token) > MaxTokenLen {
		return "", ErrNotJWT
	}
	end, ok := events.SigningInputEnd(token)
	if !ok {
		return "", ErrNotJWT
	}
	return PayloadClaim(token[strings.IndexByte(token, '.')+1:end], name)
}

// PayloadClaim is Claim for a JWS payload segment (base64url).
func PayloadClaim(payload, name string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return "", ErrNotJWT
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return "", ErrNotJWT
	}
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", nil
	}
	return s, nil
}
