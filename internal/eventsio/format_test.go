package eventsio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/revocast/revocast/events"
)

func sum(s string) string { return events.TokenKey(s).String() }

func TestParseRecord(t *testing.T) {
	exp := `"expires_at":"2030-01-01T00:00:00Z"`
	good := []string{
		`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `",` + exp + `}`,
		`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `","jti":true,"realm_key":"_",` + exp + `,"ttl_s":5}`,
		`{"kind":"token","v":1,"token_sha256":"` + sum("a") + `","batch":true,"realm_key":"` + events.RealmKey("r") + `",` + exp + `}`,
		`{"kind":"rule","v":2,"scope":"realm_user","realm":"r","user":"u","issued_before":"2026-01-01T00:00:00Z",` + exp + `}`,
	}
	for _, g := range good {
		if _, err := ParseRecord([]byte(g)); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
	secret := "raw-token-that-must-never-be-echoed"
	bad := []struct{ line, want string }{
		{`{"kind":"token","v":2,"token_sha256":"` + secret + `",` + exp + `}`, "SHA-256"},
		{`{"kind":"token","v":2,"` + secret + `":1,"token_sha256":"` + sum("a") + `",` + exp + `}`, "unknown field"},
		{`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `","expires_at":"` + secret + `"}`, "RFC 3339"},
		{`{"kind":"token","v":3,"token_sha256":"` + sum("a") + `",` + exp + `}`, "schema version 3"},
		{`{"kind":"token","v":1,"jti":true,"token_sha256":"` + sum("a") + `",` + exp + `}`, "JWT ID key in event schema version 1"},
		{`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `","realm_key":"saml1",` + exp + `}`, "realm_key"},
		{`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `"}`, "no expires_at"},
		{`{"kind":"token","v":2,` + exp + `}`, "without token_sha256"},
		{`{"kind":"rule","v":2,"scope":"realm","realm":"r",` + exp + `}`, "without issued_before"},
		{`{"kind":"rule","v":2,"scope":"realm","user":"u","issued_before":"2026-01-01T00:00:00Z",` + exp + `}`, "needs realm=true"},
		{`{"kind":"rule","v":2,"scope":"realm","realm":"r","token_sha256":"` + sum("a") + `","issued_before":"2026-01-01T00:00:00Z",` + exp + `}`, "token's fields"},
		{`{"kind":"rule","v":2,"scope":"realm","realm":"` + strings.Repeat("r", events.MaxNameLen+1) + `","issued_before":"2026-01-01T00:00:00Z",` + exp + `}`, "longer than 1024"},
		{`{"kind":"` + secret + `","v":2,` + exp + `}`, "kind"},
		{`{"kind":"token"} {"kind":"token"}`, "more than one JSON value"},
		{`{"kind":"token",`, "incomplete JSON"},
		{`[` + secret, "invalid JSON"},
		{`{"kind":"token","v":"2"}`, "wrong JSON type"},
		{strings.Repeat(" ", MaxLine), "longer than"},
	}
	for _, b := range bad {
		_, err := ParseRecord([]byte(b.line))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%.80s: %v, want ErrFormat saying %q", b.line, err, b.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error quotes the line: %v", err)
		}
	}
}

func TestParseHeader(t *testing.T) {
	h := Header{Format: Format, Version: Version, Stream: "REVOCAST", ExportedAt: time.Now()}
	b, _ := json.Marshal(h)
	if _, err := ParseHeader(b); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"format":"other","version":1,"stream":"REVOCAST"}`,
		`{"format":"revocast-events","version":2,"stream":"REVOCAST"}`,
		`{"format":"revocast-events","version":1,"stream":"a.b"}`,
		`{"kind":"token","v":2}`,
	} {
		if _, err := ParseHeader([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", bad, err)
		}
	}
}

// A batch event becomes one record per live token, each with the realm key
// its ledger mark carries; expired ones and expired events give nothing.
func TestRecordsExpandBatchesAndDropExpired(t *testing.T) {
	now := time.Now().UTC()
	live, gone := now.Add(time.Hour), now.Add(-time.Second)
	ev := events.NewTokenBatch("req", 0, []events.TokenItem{
		{Token: events.TokenKey("a"), ExpiresAt: live, TokenType: events.AccessToken},
		{Token: events.TokenKey("b"), ExpiresAt: gone},
		{Token: events.JTIKey("iss", "j"), ExpiresAt: live, JTI: true},
	}, now)
	realm := func(s events.Sum) string {
		if s == events.TokenKey("a") {
			return events.RealmKey("saml1")
		}
		return ""
	}
	recs := Records(&ev, realm, now)
	if len(recs) != 2 || recs[0].Token != events.TokenKey("a") || recs[0].RealmKey != events.RealmKey("saml1") ||
		!recs[0].Batch || recs[1].Token != events.JTIKey("iss", "j") || !recs[1].JTI || recs[1].RealmKey != "" {
		t.Fatalf("records of a batch: %+v", recs)
	}
	if recs[0].TTLSeconds < 3590 || recs[0].TTLSeconds > 3600 {
		t.Fatalf("ttl_s %d, want about an hour", recs[0].TTLSeconds)
	}
	rule := events.NewRule(events.Rule{Scope: events.ScopeUser, User: "u"}, now.Add(-2*time.Hour), time.Hour)
	if recs := Records(&rule, nil, now); len(recs) != 0 {
		t.Fatalf("an expired rule gave %+v", recs)
	}
	tok := events.NewTokenRevocation(events.TokenKey("c"), events.RefreshToken, live, now)
	tok.Realm = "saml1"
	recs = Records(&tok, nil, now)
	if len(recs) != 1 || recs[0].RealmKey != events.RealmKey("saml1") || recs[0].Realm != "saml1" || recs[0].Batch {
		t.Fatalf("a single token's record: %+v", recs)
	}
	for _, r := range recs {
		b, _ := json.Marshal(r)
		if _, err := ParseRecord(b); err != nil {
			t.Fatalf("a record Records made does not parse: %v: %s", err, b)
		}
	}
}

// The line reader refuses a line over MaxLine and names it.
func TestLineReaderBoundsLines(t *testing.T) {
	in := "a\r\n\nb\n" + strings.Repeat("x", MaxLine) + "\nc"
	lr := newLineReader(strings.NewReader(in))
	for _, want := range []string{"a", "", "b"} {
		b, err := lr.next()
		if err != nil || string(b) != want {
			t.Fatalf("line %d: %q %v, want %q", lr.line, b, err, want)
		}
	}
	if _, err := lr.next(); !errors.Is(err, ErrFormat) || lr.line != 4 {
		t.Fatalf("line %d over MaxLine: %v", lr.line, err)
	}
}

func FuzzParseRecord(f *testing.F) {
	exp := `"expires_at":"2030-01-01T00:00:00Z"`
	for _, s := range []string{
		`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `",` + exp + `}`,
		`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `","jti":true,"batch":true,"realm_key":"_",` + exp + `}`,
		`{"kind":"rule","v":2,"scope":"consent","realm":"r","user":"u","client":"c","issued_before":"2026-01-01T00:00:00Z",` + exp + `}`,
		`{"kind":"rule","v":1,"scope":"user","user":"\u0000","issued_before":"2026-01-01T00:00:00.5+02:00",` + exp + `,"ttl_s":-1}`,
		`{}`, `null`, `[]`, `{"kind":"token","v":2,"token_sha256":"` + strings.ToUpper(sum("a")) + `",` + exp + `}`,
		// What encoding/json would rewrite: a key twice, another case, not UTF-8, a byte order mark.
		`{"kind":"rule","v":2,"scope":"user","user":"u","user":"v","issued_before":"2026-01-01T00:00:00Z",` + exp + `}`,
		`{"KIND":"token","v":2,"token_sha256":"` + sum("a") + `",` + exp + `}`,
		`{"kind":"rule","v":2,"scope":"user","user":"` + "\xff" + `","issued_before":"2026-01-01T00:00:00Z",` + exp + `}`,
		"\ufeff" + `{"kind":"token","v":2,"token_sha256":"` + sum("a") + `",` + exp + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRecord(line)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("an error of %d bytes", len(err.Error()))
			}
			if len(line) >= 48 && bytes.Contains([]byte(err.Error()), line) {
				t.Fatalf("the error quotes the line")
			}
			return
		}
		if !utf8.Valid(line) {
			t.Fatalf("a line that is not UTF-8 parsed")
		}
		// What parses makes an event that encodes, and survives a round trip.
		ev := r.event()
		if r.Batch {
			ev = events.NewTokenBatch("imp-x", 0, []events.TokenItem{r.item()}, time.Now())
			ev.Version = r.V
		}
		if _, err := ev.Encode(); err != nil {
			t.Fatalf("a parsed record makes an invalid event: %v", err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRecord(b)
		if err != nil {
			t.Fatalf("a parsed record does not parse again: %v: %s", err, b)
		}
		if again.Token != r.Token || again.Kind != r.Kind || !again.ExpiresAt.Equal(r.ExpiresAt) || again.Rule() != r.Rule() {
			t.Fatalf("round trip changed the record: %+v / %+v", r, again)
		}
	})
}

// A failed import says how far it got; seen: a file that was not an export
// at all failed on its first line and said "every line up to 1 is stored".
func TestImportErrorSaysWhatWasStored(t *testing.T) {
	for _, c := range []struct {
		e    ImportError
		want string
	}{
		{ImportError{Line: 1, LastStoredLine: 1, Err: ErrFormat}, "line 1: " + ErrFormat.Error() + " (nothing was stored)"},
		{ImportError{Line: 2, LastStoredLine: 1, Err: ErrFormat}, "line 2: " + ErrFormat.Error() + " (nothing was stored)"},
		{ImportError{Line: 19, LastStoredLine: 11, Err: ErrFormat}, "line 19: " + ErrFormat.Error() + " (every line up to 11 is stored)"},
		{ImportError{Line: 0, LastStoredLine: 5000, Err: ErrFormat}, ErrFormat.Error() + " (every line up to 5000 is stored)"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
}

// Lines export never writes, which encoding/json would still read as
// something else: invalid UTF-8 (it became U+FFFD, so a rule for user
// "b\xffob" was stored for "b\uFFFDob"), a key twice (the last one won),
// a byte order mark. Each is refused, saying why, without the line.
func TestParseRecordRefusesWhatJSONWouldRewrite(t *testing.T) {
	exp := `"expires_at":"2030-01-01T00:00:00Z"`
	rule := `{"kind":"rule","v":2,"scope":"realm_user","realm":"r","issued_before":"2026-01-01T00:00:00Z",` + exp
	for _, c := range []struct{ line, want string }{
		{rule + `,"user":"b` + "\xff" + `ob"}`, "not UTF-8"},
		{rule + `,"user":"u","user":"root"}`, `the key "user" twice`},
		{`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `","token_sha256":"` + sum("b") + `",` + exp + `}`, `the key "token_sha256" twice`},
		{`{"kind":"token","v":2,"token_sha256":"` + sum("a") + `","Token_SHA256":"` + sum("b") + `",` + exp + `}`, "unknown field"},
		{"\ufeff" + rule + `,"user":"u"}`, "byte order mark"},
	} {
		_, err := ParseRecord([]byte(c.line))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want ErrFormat saying %q", c.line, err, c.want)
		}
	}
	h := `{"format":"revocast-events","version":1,"stream":"REVOCAST"}`
	for _, line := range []string{"\ufeff" + h, h[:len(h)-1] + `,"stream":"OTHER"}`, h[:len(h)-1] + `,"format":"x` + "\xff" + `"}`} {
		if _, err := ParseHeader([]byte(line)); err == nil || !errors.Is(err, ErrFormat) {
			t.Errorf("header %q: %v, want ErrFormat", line, err)
		}
	}
	if _, err := ParseRecord([]byte(rule + `,"user":"` + "\u00e9\u2603" + `"}`)); err != nil {
		t.Errorf("a UTF-8 user name: %v", err)
	}
}

// Found in review: session rules (scope "session") came after the export
// format, which had no field for the session id: export wrote a session
// rule without it, and import stopped at that line ("needs a realm and a
// session"), so the rule and every line after it were not restored.
func TestSessionRuleRoundTrips(t *testing.T) {
	now := time.Now()
	rule := events.Rule{Scope: events.ScopeSession, Realm: "acme", Session: "sid-42"}
	ev := events.NewRuleAt(rule, now.Add(-time.Minute), now, time.Hour)
	recs := Records(&ev, nil, now)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	line, err := json.Marshal(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRecord(line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if got.Rule() != rule {
		t.Fatalf("%s read back as %+v, want %+v", line, got.Rule(), rule)
	}
	if back := got.event(); back.Session != rule.Session || back.Scope != rule.Scope {
		t.Fatalf("stored again as %+v", back)
	}
}
