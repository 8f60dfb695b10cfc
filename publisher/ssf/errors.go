package ssf

import (
	"errors"
	"fmt"
)

// Code is a Security Event Token error code (RFC 8935 section 2.4), the
// err member of a refusal.
type Code string

// The codes of RFC 8935 section 2.4.
const (
	// CodeInvalidRequest: the body cannot be parsed as a SET, or an event
	// does not conform to its definition (revocast also answers it for an
	// event type or subject it cannot map, naming which).
	CodeInvalidRequest Code = "invalid_request"
	// CodeInvalidKey: a key (or the algorithm) used to sign the SET is
	// unacceptable: none, HMAC, an algorithm not configured, an unknown
	// kid, a signature that does not verify.
	CodeInvalidKey Code = "invalid_key"
	// CodeInvalidIssuer: the SET's iss is not the transmitter's issuer.
	CodeInvalidIssuer Code = "invalid_issuer"
	// CodeInvalidAudience: the SET's aud does not name revocast.
	CodeInvalidAudience Code = "invalid_audience"
	// CodeAuthenticationFailed: the transmitter could not be authenticated
	// (its bearer token).
	CodeAuthenticationFailed Code = "authentication_failed"
	// CodeAccessDenied: the transmitter may not act on the realm the SET
	// reaches.
	CodeAccessDenied Code = "access_denied"
)

// Error is a refused signal: nothing it implies was stored.
type Error struct {
	Code        Code
	Description string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Description }

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Description: truncate(fmt.Sprintf(format, args...), 512)}
}

// Errors that are not a signal's fault.
var (
	// ErrUnavailable: what the signal implies could not be stored, or the
	// replay record could not be read; nothing is acknowledged, the
	// transmitter retries.
	ErrUnavailable = errors.New("signal not stored")
	// ErrOverBudget: storing the signal would break a realm's quota or a
	// sidecar's capacity; retrying helps once revocations expire.
	ErrOverBudget = errors.New("over budget")
)

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// quote renders a value from a signal for an error description: quoted,
// bounded.
func quote(s string) string { return fmt.Sprintf("%q", truncate(s, 64)) }
