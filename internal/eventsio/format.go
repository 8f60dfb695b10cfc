package eventsio

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/revocast/revocast/events"
)

// The file format: the first line is a Header, every other line a Record.
const (
	// Format names the file in its header.
	Format = "revocast-events"
	// Version is the format version Export writes; Import reads it and
	// refuses newer ones.
	Version = 1
	// MaxLine bounds one line, newline included: a rule with three names
	// of events.MaxNameLen bytes each, every byte escaped as \u00XX, fits.
	MaxLine = 24 << 10
)

// Record kinds.
const (
	KindToken = "token"
	KindRule  = "rule"
)

// ErrFormat marks a line that is not a valid header or record.
var ErrFormat = errors.New("not a revocast export line")

// Header is the first line of an export.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Where and when it was exported: the stream's name, creation time
	// and last sequence then.
	Stream        string    `json:"stream"`
	StreamCreated time.Time `json:"stream_created"`
	LastSeq       uint64    `json:"last_seq"`
	ExportedAt    time.Time `json:"exported_at"`
}

// Record is one live revocation: a token key or a rule.
type Record struct {
	Kind string `json:"kind"`
	// V is the event schema version the revocation was written with: a
	// version 1 token key is the SHA-256 of the token's text
	// (events.LegacyTokenKey), which sidecars treat differently.
	V int `json:"v"`

	// A token key (Kind "token").
	Token events.Sum `json:"token_sha256,omitzero"`
	// JTI: Token is a JWT ID key (events.JTIKey), not a token key.
	JTI bool `json:"jti,omitempty"`
	// Batch: it came from a batch event; Import stores such records in
	// batches again.
	Batch     bool   `json:"batch,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	// RealmKey is the events.RealmKey of the token's realm as its ledger
	// mark says ("_" unknown), for the budgets; the realm's name is known
	// only for a token revoked alone (Realm, informative).
	RealmKey string `json:"realm_key,omitempty"`

	// A rule (Kind "rule"): every token of Scope issued at or before
	// IssuedBefore.
	Scope        events.Scope `json:"scope,omitempty"`
	IssuedBefore time.Time    `json:"issued_before,omitzero"`

	// Names: a rule's scope; informative for a token.
	Realm  string `json:"realm,omitempty"`
	User   string `json:"user,omitempty"`
	Client string `json:"client,omitempty"`
	// Session: a session rule's session id (scope "session").
	Session string `json:"session,omitempty"`

	// ExpiresAt is when it stops being denied; TTLSeconds is what was left
	// of that when exported (informative: Import uses ExpiresAt).
	ExpiresAt  time.Time `json:"expires_at"`
	TTLSeconds int64     `json:"ttl_s"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Rule returns a rule record's scope.
func (r *Record) Rule() events.Rule {
	return events.Rule{Scope: r.Scope, Realm: r.Realm, User: r.User, Client: r.Client, Session: r.Session}
}

// ParseHeader reads an export's first line.
func ParseHeader(line []byte) (Header, error) {
	var h Header
	if err := strictDecode(line, &h); err != nil {
		return h, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if h.Format != Format {
		return h, fmt.Errorf("%w: header: format %q, want %q", ErrFormat, clip(h.Format), Format)
	}
	if h.Version < 1 || h.Version > Version {
		return h, fmt.Errorf("%w: header: version %d, this revocast reads 1 to %d", ErrFormat, h.Version, Version)
	}
	if events.ValidID(h.Stream) != nil {
		return h, fmt.Errorf("%w: header: stream name %q", ErrFormat, clip(h.Stream))
	}
	return h, nil
}

// ParseRecord reads and checks one record line (without its newline). The
// error never quotes the line: it may hold whatever someone put there.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	if len(line) >= MaxLine {
		return r, fmt.Errorf("%w: longer than %d bytes", ErrFormat, MaxLine-1)
	}
	if err := strictDecode(line, &r); err != nil {
		return r, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return r, r.Validate()
}

// Validate checks a record is complete, bounded and of one kind.
func (r *Record) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, a...)...)
	}
	if r.V < 1 || r.V > events.SchemaVersion {
		return bad("event schema version %d, this revocast reads 1 to %d", r.V, events.SchemaVersion)
	}
	if r.ExpiresAt.IsZero() {
		return bad("no expires_at")
	}
	for _, f := range []string{r.Realm, r.User, r.Client, r.TokenType} {
		if len(f) > events.MaxNameLen {
			return bad("a name is longer than %d bytes", events.MaxNameLen)
		}
	}
	switch r.Kind {
	case KindToken:
		switch {
		case r.Token.IsZero():
			return bad("a token record without token_sha256")
		case r.Scope != "" || !r.IssuedBefore.IsZero():
			return bad("a token record with a rule's scope or issued_before")
		case r.JTI && r.V <= events.LegacyKeyVersion:
			return bad("a JWT ID key in event schema version %d", r.V)
		case !validRealmKey(r.RealmKey):
			return bad("realm_key must be \"_\" or 32 hex digits")
		}
	case KindRule:
		switch {
		case r.IssuedBefore.IsZero():
			return bad("a rule without issued_before")
		case !r.Token.IsZero() || r.JTI || r.Batch || r.TokenType != "" || r.RealmKey != "":
			return bad("a rule record with a token's fields")
		}
		if err := r.Rule().Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrFormat, err)
		}
	default:
		return bad("kind %q, want %q or %q", clip(r.Kind), KindToken, KindRule)
	}
	return nil
}

func validRealmKey(k string) bool {
	if k == "" || k == "_" {
		return true
	}
	if len(k) != 32 {
		return false
	}
	_, err := hex.DecodeString(k)
	return err == nil && k == bytesLower(k)
}

func bytesLower(s string) string { return string(bytes.ToLower([]byte(s))) }

// strictDecode decodes exactly one JSON object of UTF-8 text, with no
// unknown fields and no key twice. Its errors say what is wrong without
// quoting the line.
func strictDecode(line []byte, v any) error {
	if err := checkText(line); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describe(err)
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	return checkKeys(line, v)
}

// describe renders a decoding error without the text it was given:
// encoding/json quotes unknown field names and time's parser the value.
func describe(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %s: wrong JSON type", clip(typ.Field))
	case errors.As(err, &tim):
		return errors.New("a time that is not RFC 3339")
	case errors.Is(err, events.ErrBadHash):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("incomplete JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return errors.New("an unknown field")
	}
	return errors.New("unreadable JSON")
}

// clip bounds text quoted in an error.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
