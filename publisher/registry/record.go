package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

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
	// JTI: Token is the JTIKey of an iss and jti (absent: false, as in
	// records written before it existed).
	JTI bool `json:"jti,omitempty"`
}

func toStored(r *publisher.Record) stored {
	return stored{V: 1, Token: r.Sum, Type: r.Type, Realm: r.Realm, User: r.User, Client: r.Client,
		Parent: r.Parent, ExpiresAt: r.ExpiresAt, JTI: r.JTI}
}

func (s *stored) record() publisher.Record {
	return publisher.Record{Sum: s.Token, Type: s.Type, Realm: s.Realm, User: s.User, Client: s.Client,
		Parent: s.Parent, ExpiresAt: s.ExpiresAt, JTI: s.JTI}
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
	JTI       bool       `json:"j,omitempty"` // absent in entries written before it existed: false
}

// encodeBatch encodes records of one scope (groupByScope made them so).
func encodeBatch(recs []publisher.Record) []byte {
	b := indexBatch{V: 1, Realm: recs[0].Realm, User: recs[0].User, Client: recs[0].Client,
		Records: make([]indexEntry, len(recs))}
	for i := range recs {
		b.Records[i] = indexEntry{Token: recs[i].Sum, Type: recs[i].Type, Parent: recs[i].Parent, ExpiresAt: recs[i].ExpiresAt,
			JTI: recs[i].JTI}
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
				Parent: e.Parent, ExpiresAt: e.ExpiresAt, JTI: e.JTI})
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
