package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jsonkeys"
	"github.com/revocast/revocast/publisher"
)

// ErrInvalid marks a record that is refused as given.
var ErrInvalid = errors.New("invalid token record")

// MaxLineLen bounds one NDJSON line.
const MaxLineLen = 64 << 10

// Input is one record as issuers send it. A token is given raw (token), by
// its key (token_sha256), or, for a JWT an identity provider never shows
// revocast, by its issuer and JWT ID (iss and jti).
type Input struct {
	Token        *string `json:"token"`
	TokenSHA256  *string `json:"token_sha256"`
	Iss          *string `json:"iss"`
	JTI          *string `json:"jti"`
	Type         string  `json:"type"`
	Realm        string  `json:"realm"`
	Username     string  `json:"username"`
	ClientID     string  `json:"client_id"`
	Parent       *string `json:"parent"`
	ParentSHA256 *string `json:"parent_sha256"`
	ExpiresAt    string  `json:"expires_at"`
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// ParseInput reads one JSON record strictly (unknown fields are refused, so
// a misspelt field is not silently dropped).
func ParseInput(line []byte) (Input, error) {
	var in Input
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, invalid("not a JSON record: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return in, invalid("more than one JSON value on the line")
	}
	if err := jsonkeys.Duplicate(line); err != nil {
		// The last value would win: an issuer's log, or a proxy reading
		// the first, would not see what was registered.
		return in, invalid("the record names a field twice: %v", err)
	}
	return in, nil
}

// Validate turns an input into a record: exactly one of token,
// token_sha256, or iss and jti; a known type, realm, username and
// client_id; an optional parent (access tokens only); and an expiry in the
// future but within maxLifetime.
func (in *Input) Validate(now time.Time, maxLifetime time.Duration) (publisher.Record, error) {
	var r publisher.Record
	sum, jti, err := in.identity()
	if err != nil {
		return r, err
	}
	r.Sum, r.JTI = sum, jti
	switch in.Type {
	case events.AccessToken, events.RefreshToken:
		r.Type = in.Type
	case "":
		return r, invalid("type is required (access_token or refresh_token)")
	default:
		return r, invalid("type must be access_token or refresh_token")
	}
	for _, f := range []struct{ name, v string }{{"realm", in.Realm}, {"username", in.Username}, {"client_id", in.ClientID}} {
		if f.v == "" {
			return r, invalid("%s is required", f.name)
		}
		if len(f.v) > events.MaxNameLen {
			return r, invalid("%s is longer than %d bytes", f.name, events.MaxNameLen)
		}
	}
	r.Realm, r.User, r.Client = in.Realm, in.Username, in.ClientID
	parent, err := hashOrSum("parent", in.Parent, in.ParentSHA256)
	if err != nil {
		return r, err
	}
	if !parent.IsZero() {
		if r.Type != events.AccessToken {
			return r, invalid("only an access token has a parent")
		}
		if parent == r.Sum {
			return r, invalid("a token cannot be its own parent")
		}
	}
	r.Parent = parent
	if in.ExpiresAt == "" {
		return r, invalid("expires_at is required (RFC 3339)")
	}
	exp, err := time.Parse(time.RFC3339, in.ExpiresAt)
	if err != nil {
		return r, invalid("expires_at is not an RFC 3339 time")
	}
	if !exp.After(now) {
		return r, invalid("expires_at is in the past: the token has expired")
	}
	if exp.After(now.Add(maxLifetime + time.Minute)) {
		return r, invalid("expires_at is more than --max-token-lifetime (%s) away", maxLifetime)
	}
	r.ExpiresAt = exp.UTC()
	return r, nil
}

// identity is the record's key: a token's (raw or given), or the JTIKey of
// iss and jti (then jti is true).
func (in *Input) identity() (sum events.Sum, jti bool, err error) {
	if in.Iss == nil && in.JTI == nil {
		if in.Token == nil && in.TokenSHA256 == nil {
			return sum, false, invalid("token, token_sha256, or iss and jti is required")
		}
		sum, err = hashOrSum("token", in.Token, in.TokenSHA256)
		if err == nil && sum.IsZero() {
			err = invalid("token_sha256 is all zeros")
		}
		return sum, false, err
	}
	switch {
	case in.Token != nil || in.TokenSHA256 != nil:
		return sum, false, invalid("give one of token, token_sha256, or iss and jti")
	case in.Iss == nil:
		return sum, false, invalid("jti needs its iss")
	case in.JTI == nil:
		return sum, false, invalid("iss needs a jti")
	}
	for _, f := range []struct{ name, v string }{{"iss", *in.Iss}, {"jti", *in.JTI}} {
		if f.v == "" || len(f.v) > events.MaxNameLen {
			return sum, false, invalid("%s must be 1 to %d bytes", f.name, events.MaxNameLen)
		}
	}
	return events.JTIKey(*in.Iss, *in.JTI), true, nil
}

// hashOrSum reads a token given raw (hashed here) or as its SHA-256; zero
// when neither is given.
func hashOrSum(name string, raw, sum *string) (events.Sum, error) {
	switch {
	case raw != nil && sum != nil:
		return events.Sum{}, invalid("give %s or %s_sha256, not both", name, name)
	case raw != nil:
		if *raw == "" || len(*raw) > publisher.MaxTokenLen {
			return events.Sum{}, invalid("%s must be 1 to %d bytes", name, publisher.MaxTokenLen)
		}
		return events.TokenKey(*raw), nil
	case sum != nil:
		s, err := events.ParseSum(*sum)
		if err != nil {
			return events.Sum{}, invalid("%s_sha256: %v", name, err)
		}
		return s, nil
	}
	return events.Sum{}, nil
}
