package events

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrBadHash is returned for a string that is not a SHA-256 in hex.
var ErrBadHash = errors.New("not a SHA-256 in hex (64 hex digits)")

// Sum is a token's SHA-256.
type Sum [sha256.Size]byte

// String returns the lowercase hex form, the only form a token hash takes on
// the wire, in the stream and in logs.
func (s Sum) String() string { return hex.EncodeToString(s[:]) }

// Short returns the first 12 hex digits, enough to name a token in an error
// message without disclosing a usable value.
func (s Sum) Short() string { return s.String()[:12] }

// IsZero reports whether s is the zero value.
func (s Sum) IsZero() bool { return s == Sum{} }

// ParseSum parses 64 hex digits (either case) into a Sum.
func ParseSum(h string) (Sum, error) {
	var s Sum
	// The input is never echoed: a caller may have passed a raw token here.
	if len(h) != 2*sha256.Size {
		return s, fmt.Errorf("%d characters: %w", len(h), ErrBadHash)
	}
	if _, err := hex.Decode(s[:], []byte(h)); err != nil {
		return s, fmt.Errorf("non-hex character: %w", ErrBadHash)
	}
	return s, nil
}

// MarshalText implements encoding.TextMarshaler (lowercase hex).
func (s Sum) MarshalText() ([]byte, error) {
	out := make([]byte, 2*sha256.Size)
	hex.Encode(out, s[:])
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Sum) UnmarshalText(b []byte) error {
	v, err := ParseSum(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
