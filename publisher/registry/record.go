package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

// ErrInvalid marks a record that is refused as given.
var ErrInvalid = errors.New("invalid token record")

// MaxLineLen bounds one NDJSON line.
const MaxLineLen = 64 << 10

// Input is one record as issuers send it.
type Input struct {
	Token        *string `json:"token"`
	TokenSHA256  *string `json:"token_sha256"`
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
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, invalid("not a JSON record: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return in, invalid("more than one JSON value on the line")
	}
	return in, nil
}

// Validate turns an input into a record: exactly one of token and
// token_sha256, a known type, realm, username and client_id, an optional
// parent (access tokens only), and an expiry in the future but within
// maxLifetime.
func (in *Input) Validate(now time.Time, maxLifetime time.Duration) (publisher.Record, error) {
	var r publisher.Record
	sum, err := hashOrSum("token", in.Token, in.TokenSHA256, true)
	if err != nil {
		return r, err
	}
	r.Sum = sum
	switch in.Type {
	case events.AccessToken, events.RefreshToken:
		r.Type = in.Type
	case "":
		return r, invalid("type is required (access_token or refresh_token)")
	default:
		return r, invalid("type must be access_token or refresh_token")
	}
	for name, v := range map[string]string{"realm": in.Realm, "username": in.Username, "client_id": in.ClientID} {
		if v == "" {
			return r, invalid("%s is required", name)
		}
		if len(v) > events.MaxNameLen {
			return r, invalid("%s is longer than %d bytes", name, events.MaxNameLen)
		}
	}
	r.Realm, r.User, r.Client = in.Realm, in.Username, in.ClientID
	parent, err := hashOrSum("parent", in.Parent, in.ParentSHA256, false)
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

// hashOrSum reads a token given raw (hashed here) or as its SHA-256.
func hashOrSum(name string, raw, sum *string, required bool) (events.Sum, error) {
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
	case required:
		return events.Sum{}, invalid("%s or %s_sha256 is required", name, name)
	}
	return events.Sum{}, nil
}

// stored is a record as kept in the bucket.
type stored struct {
	V         int        `json:"v"`
	Token     events.Sum `json:"token_sha256"`
	Type      string     `json:"type"`
	Realm     string     `json:"realm"`
	User      string     `json:"user"`
	Client    string     `json:"client"`
	Parent    events.Sum `json:"parent_sha256,omitzero"`
	ExpiresAt time.Time  `json:"expires_at"`
}

func toStored(r *publisher.Record) stored {
	return stored{V: 1, Token: r.Sum, Type: r.Type, Realm: r.Realm, User: r.User, Client: r.Client,
		Parent: r.Parent, ExpiresAt: r.ExpiresAt}
}

func (s *stored) record() publisher.Record {
	return publisher.Record{Sum: s.Token, Type: s.Type, Realm: s.Realm, User: s.User, Client: s.Client,
		Parent: s.Parent, ExpiresAt: s.ExpiresAt}
}

func encode(r *publisher.Record) []byte {
	b, _ := json.Marshal(toStored(r))
	return b
}

func decode(b []byte) (publisher.Record, error) {
	var s stored
	if err := json.Unmarshal(b, &s); err != nil || s.V != 1 || s.Token.IsZero() {
		return publisher.Record{}, fmt.Errorf("unreadable registry record")
	}
	return s.record(), nil
}

// maxIndexBatch is the most records one index entry holds (about 250 KiB).
const maxIndexBatch = 1000

// indexBatch is the value of an index key: records of one scope registered
// together. The scope's names are stored once, not per record.
type indexBatch struct {
	V       int          `json:"v"`
	Realm   string       `json:"realm"`
	User    string       `json:"user"`
	Client  string       `json:"client"`
	Records []indexEntry `json:"records"`
}

type indexEntry struct {
	Token     events.Sum `json:"t"`
	Type      string     `json:"k"`
	Parent    events.Sum `json:"p,omitzero"`
	ExpiresAt time.Time  `json:"e"`
}

// encodeBatch encodes records of one scope (groupByScope made them so).
func encodeBatch(recs []publisher.Record) []byte {
	b := indexBatch{V: 1, Realm: recs[0].Realm, User: recs[0].User, Client: recs[0].Client,
		Records: make([]indexEntry, len(recs))}
	for i := range recs {
		b.Records[i] = indexEntry{Token: recs[i].Sum, Type: recs[i].Type, Parent: recs[i].Parent, ExpiresAt: recs[i].ExpiresAt}
	}
	out, _ := json.Marshal(b)
	return out
}

func decodeBatch(b []byte) ([]publisher.Record, error) {
	var ib indexBatch
	if err := json.Unmarshal(b, &ib); err != nil || ib.V != 1 {
		return nil, fmt.Errorf("unreadable registry index entry")
	}
	out := make([]publisher.Record, 0, len(ib.Records))
	for _, e := range ib.Records {
		if !e.Token.IsZero() {
			out = append(out, publisher.Record{Sum: e.Token, Type: e.Type, Realm: ib.Realm, User: ib.User, Client: ib.Client,
				Parent: e.Parent, ExpiresAt: e.ExpiresAt})
		}
	}
	return out, nil
}

// nameKey is the key token of a realm, user or client name: 128 bits of its
// SHA-256, so no name ever becomes part of a subject.
func nameKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:16])
}

// recordKey is the key of r's record: the realm is part of a record's
// identity, so one realm's registrant can never claim another's token.
func recordKey(r *publisher.Record) string { return realmRecordKey(r.Realm, r.Sum) }

func realmRecordKey(realm string, sum events.Sum) string {
	return "t." + nameKey(realm) + "." + sum.String()
}

// anyRealmKey matches the records of a token in every realm.
func anyRealmKey(sum events.Sum) string { return "t.*." + sum.String() }

// legacyRecordKey is where versions before realm-scoped records kept a
// token's record (one for every realm). Lookup still reads it: see lookup.go.
func legacyRecordKey(sum events.Sum) string { return "t." + sum.String() }

// indexKey is the key of one index entry of r's scope; id makes it unique.
func indexKey(r *publisher.Record, id string) string {
	return "x." + nameKey(r.Realm) + "." + nameKey(r.User) + "." + nameKey(r.Client) + "." + id
}

// scopeFilter is the key filter of a scope.
func scopeFilter(s publisher.Scope) string {
	realm := "*"
	if s.Realm != "" {
		realm = nameKey(s.Realm)
	}
	switch {
	case s.User == "":
		return "x." + realm + ".>"
	case s.Client == "":
		return "x." + realm + "." + nameKey(s.User) + ".>"
	default:
		return "x." + realm + "." + nameKey(s.User) + "." + nameKey(s.Client) + ".*"
	}
}

// inScope checks names exactly (the key hashes are only 128 bits).
func inScope(r *publisher.Record, s publisher.Scope) bool {
	return (s.Realm == "" || r.Realm == s.Realm) && (s.User == "" || r.User == s.User) && (s.Client == "" || r.Client == s.Client)
}
