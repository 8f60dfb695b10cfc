package events

import (
	"encoding/hex"
	"time"
)

// decodeFlat reads the JSON events Encode writes for single tokens, JWT
// IDs and rules without reflection: a sidecar following the stream decodes
// one per revocation, and encoding/json spent more CPU on it than the rest
// of applying it. It reads only a strict subset of JSON: one object without
// whitespace, each member at most once, a name of an Event field exactly as
// Encode spells it, strings without escapes or bytes outside printable
// ASCII, integers without fraction or exponent, times in RFC 3339 UTC
// ("Z"). Anything else (a batch's tokens, an unknown or repeated member,
// null, an escape) answers false, and Decode hands the input to
// encoding/json, whose reading of everything decodeFlat accepts is the
// same (FuzzDecodeAgreesWithEncodingJSON).
func decodeFlat(data []byte) (Event, bool) {
	var e Event
	if len(data) < 2 || data[0] != '{' {
		return e, false
	}
	i := 1
	if data[i] == '}' {
		return e, i+1 == len(data)
	}
	var seen uint16
	for {
		name, next, ok := flatString(data, i)
		if !ok || next >= len(data) || data[next] != ':' {
			return e, false
		}
		i = next + 1
		field := flatField(name)
		if field < 0 || seen&(1<<field) != 0 {
			return e, false
		}
		seen |= 1 << field
		switch field {
		case fieldV, fieldBatch:
			n, next, ok := flatInt(data, i)
			if !ok {
				return e, false
			}
			if field == fieldV {
				e.Version = n
			} else {
				e.Batch = n
			}
			i = next
		case fieldExpiresAt, fieldRevokedAt, fieldIssuedBefore:
			s, next, ok := flatString(data, i)
			if !ok {
				return e, false
			}
			t, ok := flatTime(s)
			if !ok {
				return e, false
			}
			switch field {
			case fieldExpiresAt:
				e.ExpiresAt = t
			case fieldRevokedAt:
				e.RevokedAt = t
			default:
				e.IssuedBefore = t
			}
			i = next
		case fieldToken:
			s, next, ok := flatString(data, i)
			if !ok || len(s) != 2*len(e.Token) {
				return e, false
			}
			if _, err := hex.Decode(e.Token[:], s); err != nil {
				return e, false
			}
			i = next
		default:
			s, next, ok := flatString(data, i)
			if !ok {
				return e, false
			}
			switch field {
			case fieldKind:
				e.Kind = Kind(intern(s, string(KindToken), string(KindJTI), string(KindRule), string(KindTokens)))
			case fieldTokenType:
				e.TokenType = intern(s, AccessToken, RefreshToken)
			case fieldScope:
				e.Scope = Scope(intern(s, string(ScopeRealm), string(ScopeUser), string(ScopeRealmUser), string(ScopeConsent)))
			case fieldRealm:
				e.Realm = string(s)
			case fieldUser:
				e.User = string(s)
			case fieldClient:
				e.Client = string(s)
			case fieldRequestID:
				e.RequestID = string(s)
			case fieldOrigin:
				e.Origin = string(s)
			}
			i = next
		}
		if i >= len(data) {
			return e, false
		}
		switch data[i] {
		case ',':
			i++
		case '}':
			return e, i+1 == len(data)
		default:
			return e, false
		}
	}
}

// The Event fields decodeFlat reads, as bits of its seen set.
const (
	fieldV = iota
	fieldKind
	fieldToken
	fieldTokenType
	fieldBatch
	fieldScope
	fieldIssuedBefore
	fieldRealm
	fieldUser
	fieldClient
	fieldExpiresAt
	fieldRevokedAt
	fieldRequestID
	fieldOrigin
)

// flatField returns the field a member name is (its exact JSON name), or -1.
func flatField(name []byte) int {
	switch string(name) {
	case "v":
		return fieldV
	case "kind":
		return fieldKind
	case "token_sha256":
		return fieldToken
	case "token_type":
		return fieldTokenType
	case "batch":
		return fieldBatch
	case "scope":
		return fieldScope
	case "issued_before":
		return fieldIssuedBefore
	case "realm":
		return fieldRealm
	case "user":
		return fieldUser
	case "client":
		return fieldClient
	case "expires_at":
		return fieldExpiresAt
	case "revoked_at":
		return fieldRevokedAt
	case "request_id":
		return fieldRequestID
	case "origin":
		return fieldOrigin
	}
	return -1
}

// intern returns the constant equal to s, so common values do not allocate.
func intern(s []byte, known ...string) string {
	for _, k := range known {
		if string(s) == k {
			return k
		}
	}
	return string(s)
}

// flatString reads a string at data[i] made of printable ASCII other than
// '"' and '\\', and returns its bytes and the index after it.
func flatString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// flatInt reads -?(0|[1-9][0-9]{0,8}) at data[i].
func flatInt(data []byte, i int) (int, int, bool) {
	neg := i < len(data) && data[i] == '-'
	if neg {
		i++
	}
	start, n := i, 0
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		n = n*10 + int(data[i]-'0')
	}
	digits := i - start
	if digits == 0 || digits > 9 || (digits > 1 && data[start] == '0') {
		return 0, 0, false
	}
	if i < len(data) && (data[i] == '.' || data[i] == 'e' || data[i] == 'E') {
		return 0, 0, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}

// flatTime reads YYYY-MM-DDTHH:MM:SS[.fraction]Z, every field in range
// (the day in its month), the fraction of 1 to 9 digits.
func flatTime(s []byte) (time.Time, bool) {
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		n, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for k := len(frac) - 1; k < 9; k++ {
			n *= 10
		}
		nsec = n
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int((m-1)%7%2)
}
