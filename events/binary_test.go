package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// sameEvent compares two events field by field (times as instants).
func sameEvent(a, b Event) bool {
	norm := func(e Event) Event {
		e.ExpiresAt, e.RevokedAt, e.IssuedBefore = e.ExpiresAt.UTC(), e.RevokedAt.UTC(), e.IssuedBefore.UTC()
		if e.Tokens != nil {
			e.Tokens = append([]TokenItem(nil), e.Tokens...)
			for i := range e.Tokens {
				e.Tokens[i].ExpiresAt = e.Tokens[i].ExpiresAt.UTC()
			}
		}
		return e
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func testBatch(n int) Event {
	now := time.Date(2026, 11, 28, 12, 0, 0, 123456789, time.UTC)
	items := make([]TokenItem, n)
	types := []string{AccessToken, RefreshToken, "", "urn:ietf:params:oauth:token-type:id_token"}
	for i := range items {
		items[i] = TokenItem{Token: TokenKey(fmt.Sprint("batch-", i)), TokenType: types[i%len(types)],
			ExpiresAt: now.Add(time.Duration(i) * time.Second), JTI: i%5 == 0}
	}
	ev := NewTokenBatch("req-1", 7, items, now)
	ev.Origin = "front-a"
	return ev
}

// A batch is stored in the binary encoding, reads back as it was written,
// and is much smaller than its JSON.
func TestBatchEncodesBinaryAndRoundTrips(t *testing.T) {
	ev := testBatch(MaxBatch)
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !IsBinary(b) {
		t.Fatalf("a batch is not binary: %.40q", b)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameEvent(got, ev) {
		t.Fatalf("round trip changed the batch:\n got %+v\nwant %+v", got.Tokens[:2], ev.Tokens[:2])
	}
	js, _ := json.Marshal(ev)
	if len(b)*3 > len(js) {
		t.Errorf("binary batch of %d bytes, JSON %d: want under a third", len(b), len(js))
	}
	t.Logf("%d tokens: binary %d bytes, JSON %d bytes", MaxBatch, len(b), len(js))
	// The JSON encoding of a batch, as stored before, still reads the same.
	fromJSON, err := Decode(js)
	if err != nil || !sameEvent(fromJSON, ev) {
		t.Fatalf("JSON batch: %v", err)
	}
}

// What the binary encoding does not carry makes Encode write JSON.
func TestBatchWithOtherFieldsStaysJSON(t *testing.T) {
	withRealm := testBatch(3)
	withRealm.Realm = "r"
	farFuture := testBatch(3)
	farFuture.Tokens[1].ExpiresAt = time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)
	farFuture.ExpiresAt = farFuture.Tokens[1].ExpiresAt
	for name, ev := range map[string]Event{"realm": withRealm, "after 2262": farFuture} {
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if IsBinary(b) {
			t.Errorf("%s: binary", name)
		}
		got, err := Decode(b)
		if err != nil || !sameEvent(got, ev) {
			t.Errorf("%s: round trip: %v", name, err)
		}
	}
	single := NewTokenRevocation(TokenKey("x"), AccessToken, time.Now().Add(time.Hour), time.Now())
	if b, _ := single.Encode(); IsBinary(b) {
		t.Error("a single-token event is binary")
	}
}

// A reader never misreads what it does not know: a newer encoding, kind or
// schema version is refused as unsupported, and a sidecar that predates the
// binary encoding (it read JSON only) refuses a binary batch as invalid.
// Either way the sidecar fails closed.
func TestBinaryRefusesWhatItDoesNotKnow(t *testing.T) {
	ev := testBatch(10)
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func([]byte){
		"encoding version 2": func(b []byte) { b[1] = 2 },
		"schema version 3":   func(b []byte) { b[2] = SchemaVersion + 1 },
		"kind 2":             func(b []byte) { b[3] = 2 },
	} {
		c := bytes.Clone(b)
		mutate(c)
		if _, err := Decode(c); !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("%s: %v, want ErrUnsupportedVersion", name, err)
		}
	}
	var old Event // what Decode did before the binary encoding
	if err := json.Unmarshal(b, &old); err == nil {
		t.Fatal("a JSON-only reader read a binary batch")
	}
}

// Every truncation and every lying length is refused, without a panic.
func TestBinaryMalformed(t *testing.T) {
	ev := testBatch(4)
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(b); n++ {
		if _, err := Decode(b[:n]); !errors.Is(err, ErrInvalidEvent) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	if _, err := Decode(append(bytes.Clone(b), 0)); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("a trailing byte: %v", err)
	}
	countAt := len(b) - 4*binaryItemLen - 2
	for _, n := range []uint16{0, 3, 5, MaxBatch + 1, 0xffff} {
		c := bytes.Clone(b)
		binary.BigEndian.PutUint16(c[countAt:], n)
		if _, err := Decode(c); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("count %d over 4 tokens: %v", n, err)
		}
	}
	c := bytes.Clone(b)
	c[len(c)-1] = 0x7f // type index past the table
	if _, err := Decode(c); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("type index out of range: %v", err)
	}
	c = bytes.Clone(b)
	copy(c[len(c)-binaryItemLen:], make([]byte, 32)) // a zero token key
	if _, err := Decode(c); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("zero token: %v", err)
	}
}

// A length field never makes the decoder allocate more than the payload
// holds: a 30-byte event claiming 65,535 tokens allocates nothing for them.
func TestBinaryDecoderAllocationIsBounded(t *testing.T) {
	var lie []byte
	lie = append(lie, binaryMarker, BinaryVersion, SchemaVersion, binaryKindTokens)
	lie = binary.BigEndian.AppendUint64(lie, uint64(time.Now().UnixNano()))
	lie = binary.BigEndian.AppendUint64(lie, uint64(time.Now().Add(time.Hour).UnixNano()))
	lie = binary.BigEndian.AppendUint32(lie, 0)
	lie = append(lie, 1, 'r', 0, 0)
	lie = binary.BigEndian.AppendUint16(lie, 0xffff)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < 100; i++ {
		if _, err := Decode(lie); !errors.Is(err, ErrInvalidEvent) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / 100; per > 1024 {
		t.Fatalf("a lying count allocated %d bytes per decode", per)
	}
}

// FuzzDecodeBinary feeds arbitrary binary events to Decode: it never
// panics, and what it accepts encodes back to an event that decodes the same.
func FuzzDecodeBinary(f *testing.F) {
	for _, n := range []int{1, 4, 37} {
		ev := testBatch(n)
		b, err := ev.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{binaryMarker, BinaryVersion, SchemaVersion, binaryKindTokens})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 {
			data[0] = binaryMarker
		}
		ev, err := Decode(data)
		if err != nil {
			return
		}
		b, err := ev.Encode()
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		if !IsBinary(b) {
			t.Fatalf("a decoded binary batch encodes as JSON: %+v", ev)
		}
		again, err := Decode(b)
		if err != nil || !sameEvent(again, ev) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, again, ev)
		}
		if b2, _ := again.Encode(); !bytes.Equal(b2, b) {
			t.Fatal("re-encoding is not stable")
		}
	})
}

// FuzzDecodeAgreesWithEncodingJSON: whatever the reflection-free JSON
// reader accepts, encoding/json reads the same way.
func FuzzDecodeAgreesWithEncodingJSON(f *testing.F) {
	now := time.Date(2026, 2, 28, 23, 59, 59, 120000000, time.UTC)
	single := NewTokenRevocation(TokenKey("a"), AccessToken, now.Add(time.Hour), now)
	single.RequestID, single.Origin, single.Realm, single.User, single.Client = "req", "front", "realm", "user", "client"
	jti := NewJTIRevocation(JTIKey("iss", "jti"), now, now)
	rule := NewRule(Rule{Scope: ScopeConsent, Realm: "r", User: "u", Client: "c"}, now, time.Hour)
	for _, ev := range []Event{single, jti, rule} {
		b, err := ev.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{}`, `{"v":2}`, `{"v":-1,"kind":"x"}`, `{"v":02}`, `{"v":2.0}`, `{"V":2}`, `{"v":2,"v":3}`,
		`{"expires_at":"2024-02-30T00:00:00Z"}`, `{"expires_at":"2024-02-29T00:00:00.5Z"}`, `{"expires_at":"0000-01-01T00:00:00Z"}`,
		`{"expires_at":"2024-01-01T24:00:00Z"}`, `{"expires_at":"2024-01-01T00:00:60Z"}`, `{"expires_at":"2024-01-01T00:00:00.1234567891Z"}`,
		`{"token_sha256":"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"}`, `{"realm":"a\u0062"}`, `{"realm":null}`,
		`{"batch":1,"tokens":[]}`, `{"kind":"token",}`, `{"kind":"token"} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeFlat(data)
		if !ok {
			return
		}
		var want Event
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("decodeFlat read %q, encoding/json refuses it: %v", data, err)
		}
		if !sameEvent(got, want) {
			t.Fatalf("decodeFlat read %q as\n%+v\nencoding/json as\n%+v", data, got, want)
		}
	})
}

// The events a front writes all take the reflection-free path.
func TestFrontEventsDecodeWithoutReflection(t *testing.T) {
	now := time.Now()
	single := NewTokenRevocation(TokenKey("a"), AccessToken, now.Add(time.Hour), now)
	single.RequestID, single.Origin, single.Realm, single.User, single.Client = "req", "front", "realm", "user", "client"
	for _, ev := range []Event{single, NewJTIRevocation(JTIKey("iss", "jti"), now, now),
		NewRule(Rule{Scope: ScopeRealmUser, Realm: "r", User: "u"}, now, time.Hour)} {
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeFlat(b)
		if !ok || !sameEvent(got, ev) {
			t.Errorf("%s event %s: flat %v", ev.Kind, b, ok)
		}
	}
}

// BenchmarkDecode compares reading the events a sidecar reads, each way.
func BenchmarkDecode(b *testing.B) {
	now := time.Now()
	single := NewTokenRevocation(TokenKey("a"), AccessToken, now.Add(time.Hour), now)
	single.RequestID, single.Origin = "AbCdEfGhIjKlMnOpQrStUv", "front-1"
	singleJSON, _ := single.Encode()
	batch := testBatch(MaxBatch)
	batchBin, _ := batch.Encode()
	batchJSON, _ := json.Marshal(batch)
	for _, c := range []struct {
		name string
		data []byte
		std  bool
	}{{"single/flat", singleJSON, false}, {"single/encoding-json", singleJSON, true},
		{"batch500/binary", batchBin, false}, {"batch500/encoding-json", batchJSON, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for i := 0; i < b.N; i++ {
				if c.std {
					var e Event
					if err := json.Unmarshal(c.data, &e); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if _, err := Decode(c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
