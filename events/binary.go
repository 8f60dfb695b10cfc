package events

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"time"
)

// Batch events (KindTokens) are stored in a binary encoding: a replay of a
// million revocations is 2,000 batches, and in JSON each token costs 64 hex
// digits, an RFC 3339 expiry and field names to parse. Decode reads both
// this encoding and JSON, so events stored before it stay readable.
//
//	offset  size     field
//	0       1        0xB5: a binary event (no JSON text starts with this byte)
//	1       1        encoding version (BinaryVersion)
//	2       1        schema version (the event's Version; at most SchemaVersion)
//	3       1        kind: 1, a batch of tokens
//	4       8        revoked_at, Unix ns, big-endian (as every integer)
//	12      8        expires_at, Unix ns
//	20      4        batch number
//	24      1+n      request id: its length, then its bytes (at most 64)
//	        1+n      origin, the same way
//	        1        T, the number of token types (at most maxBinaryTypes)
//	        T×(2+n)  each token type: its length (2 bytes, at most MaxNameLen), its bytes
//	        2        N, the number of tokens (1 to MaxBatch)
//	        N×41     each token: its 32-byte key, expires_at (Unix ns, 8
//	                 bytes), then a byte: bit 7 set for a JWT ID key (JTI),
//	                 bits 0-6 the index of its token type plus one (0: none)
//
// Nothing follows the last token. A reader refuses an encoding version, a
// kind or a schema version it does not know (ErrUnsupportedVersion), and
// anything malformed (ErrInvalidEvent): a sidecar that cannot read an event
// fails closed, it never guesses. A sidecar from before this encoding reads
// such an event as undecodable JSON and fails closed the same way, so
// sidecars are upgraded before fronts (as for every schema change).
//
// Only what a batch carries is encoded; Encode writes JSON for a batch
// event with anything else set (a realm, a rule field), or a time outside
// what Unix nanoseconds hold (years 1678 to 2261).
const (
	binaryMarker = 0xB5
	// BinaryVersion is the version of the binary encoding this package writes.
	BinaryVersion = 1

	binaryKindTokens = 1
	binaryHeaderLen  = 24
	binaryItemLen    = 32 + 8 + 1
	binaryJTI        = 0x80
	// maxBinaryTypes bounds the token types one binary batch names.
	maxBinaryTypes = 0x7f
	maxIDLen       = 64
)

// IsBinary reports whether an encoded event is in the binary encoding (a
// batch), as opposed to JSON.
func IsBinary(data []byte) bool { return len(data) > 0 && data[0] == binaryMarker }

// unixNano returns t in Unix ns, and whether that is exact.
func unixNano(t time.Time) (int64, bool) {
	ns := t.UnixNano()
	return ns, !t.IsZero() && time.Unix(0, ns).Equal(t)
}

// appendBinary appends the binary encoding of a batch event to b; false
// when the event holds something the encoding does not carry.
func (e *Event) appendBinary(b []byte) ([]byte, bool) {
	if e.Kind != KindTokens || e.Version < 1 || e.Version > math.MaxUint8 || e.Batch < 0 || e.Batch > math.MaxUint32 ||
		len(e.Tokens) == 0 || len(e.Tokens) > MaxBatch || len(e.RequestID) > maxIDLen || len(e.Origin) > maxIDLen ||
		!e.Token.IsZero() || e.TokenType != "" || e.Scope != "" || !e.IssuedBefore.IsZero() ||
		e.Realm != "" || e.User != "" || e.Client != "" || !e.onlyBatchFields() {
		return b, false
	}
	revoked, ok1 := unixNano(e.RevokedAt)
	expires, ok2 := unixNano(e.ExpiresAt)
	if !ok1 || !ok2 {
		return b, false
	}
	var types []string
	typeIndex := func(tt string) (int, bool) {
		if tt == "" {
			return 0, true
		}
		for i, t := range types {
			if t == tt {
				return i + 1, true
			}
		}
		if len(types) == maxBinaryTypes || len(tt) > MaxNameLen {
			return 0, false
		}
		types = append(types, tt)
		return len(types), true
	}
	for _, t := range e.Tokens {
		if _, ok := typeIndex(t.TokenType); !ok {
			return b, false
		}
		if _, ok := unixNano(t.ExpiresAt); !ok {
			return b, false
		}
	}
	size := binaryHeaderLen + 2 + len(e.RequestID) + len(e.Origin) + 1 + 2 + len(e.Tokens)*binaryItemLen
	for _, t := range types {
		size += 2 + len(t)
	}
	if cap(b)-len(b) < size {
		b = append(make([]byte, 0, len(b)+size), b...)
	}
	b = append(b, binaryMarker, BinaryVersion, byte(e.Version), binaryKindTokens)
	b = binary.BigEndian.AppendUint64(b, uint64(revoked))
	b = binary.BigEndian.AppendUint64(b, uint64(expires))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Batch))
	b = append(append(b, byte(len(e.RequestID))), e.RequestID...)
	b = append(append(b, byte(len(e.Origin))), e.Origin...)
	b = append(b, byte(len(types)))
	for _, t := range types {
		b = append(binary.BigEndian.AppendUint16(b, uint16(len(t))), t...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.Tokens)))
	for _, t := range e.Tokens {
		b = append(b, t.Token[:]...)
		ns, _ := unixNano(t.ExpiresAt)
		b = binary.BigEndian.AppendUint64(b, uint64(ns))
		flags, _ := typeIndex(t.TokenType)
		if t.JTI {
			flags |= binaryJTI
		}
		b = append(b, byte(flags))
	}
	return b, true
}

// onlyBatchFields reports whether e sets nothing but what a binary batch
// carries (a field added to Event later is JSON until the encoding carries
// it): e with those fields cleared is the zero Event.
func (e *Event) onlyBatchFields() bool {
	rest := *e
	rest.Version, rest.Kind, rest.Tokens, rest.Batch, rest.RequestID, rest.Origin = 0, "", nil, 0, "", ""
	rest.ExpiresAt, rest.RevokedAt = time.Time{}, time.Time{}
	return reflect.ValueOf(rest).IsZero()
}

// decodeBinary reads a binary event. Every length is checked against what
// is left of data before anything is allocated, and the token count
// against MaxBatch and the exact size of the rest, so no field makes it
// allocate more than data's own size.
func decodeBinary(data []byte) (Event, error) {
	bad := func(what string) (Event, error) {
		return Event{}, fmt.Errorf("%w: binary event: %s", ErrInvalidEvent, what)
	}
	if len(data) < 4 {
		return bad("truncated header")
	}
	if data[1] != BinaryVersion {
		return Event{}, fmt.Errorf("binary encoding version %d: %w", data[1], ErrUnsupportedVersion)
	}
	if data[2] > SchemaVersion {
		return Event{}, fmt.Errorf("version %d: %w", data[2], ErrUnsupportedVersion)
	}
	if data[3] != binaryKindTokens {
		return Event{}, fmt.Errorf("binary event kind %d: %w", data[3], ErrUnsupportedVersion)
	}
	if len(data) < binaryHeaderLen {
		return bad("truncated header")
	}
	e := Event{Version: int(data[2]), Kind: KindTokens,
		RevokedAt: time.Unix(0, int64(binary.BigEndian.Uint64(data[4:]))).UTC(),
		ExpiresAt: time.Unix(0, int64(binary.BigEndian.Uint64(data[12:]))).UTC(),
		Batch:     int(binary.BigEndian.Uint32(data[20:]))}
	rest := data[binaryHeaderLen:]
	short := func(n int) bool { return len(rest) < n }
	for _, f := range []*string{&e.RequestID, &e.Origin} {
		if short(1) || int(rest[0]) > maxIDLen || short(1+int(rest[0])) {
			return bad("truncated or oversized identifier")
		}
		*f, rest = string(rest[1:1+rest[0]]), rest[1+rest[0]:]
	}
	if short(1) || rest[0] > maxBinaryTypes {
		return bad("truncated or oversized token type table")
	}
	types := make([]string, rest[0])
	rest = rest[1:]
	for i := range types {
		if short(2) {
			return bad("truncated token type")
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n > MaxNameLen || short(2+n) {
			return bad("truncated or oversized token type")
		}
		types[i], rest = string(rest[2:2+n]), rest[2+n:]
	}
	if short(2) {
		return bad("truncated token count")
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if n == 0 || n > MaxBatch || len(rest) != n*binaryItemLen {
		return bad(fmt.Sprintf("%d tokens in %d bytes", n, len(rest)))
	}
	e.Tokens = make([]TokenItem, n)
	for i := range e.Tokens {
		it := rest[i*binaryItemLen : (i+1)*binaryItemLen]
		t := &e.Tokens[i]
		copy(t.Token[:], it[:32])
		t.ExpiresAt = time.Unix(0, int64(binary.BigEndian.Uint64(it[32:]))).UTC()
		flags := it[40]
		t.JTI = flags&binaryJTI != 0
		if ti := int(flags &^ binaryJTI); ti > 0 {
			if ti > len(types) {
				return bad("token type index out of range")
			}
			t.TokenType = types[ti-1]
		}
	}
	return e, nil
}
