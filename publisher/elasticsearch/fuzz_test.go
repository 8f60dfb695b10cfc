package elasticsearch

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzParseBody checks that the parser never panics, and that whenever it
// accepts a body that encoding/json also reads as an object, both agree on
// every field.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{`{"token":"a"}`, `{"refresh_token":"b"}`, `{"realm_name":"r","username":"u"}`,
		`{}`, `{"foo":1}`, `{"token":"a","token":"b"}`, "{\n\"token\" : \"\\u00e9\"}", `[]`, `{"token":"a",}`, `{"token":"a"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, perr := parseBody(in)
		if perr != nil {
			if perr.reason == "" || perr.typ == "" {
				t.Fatalf("error without type or reason: %+v", perr)
			}
			return
		}
		var ref map[string]any
		dec := json.NewDecoder(bytes.NewReader(in))
		if err := dec.Decode(&ref); err != nil {
			return // we accept some inputs encoding/json refuses as a whole (trailing content)
		}
		for key, got := range map[string]*string{"token": b.token, "refresh_token": b.refreshToken,
			"realm_name": b.realmName, "username": b.username} {
			want, ok := ref[key]
			if !ok {
				if got != nil {
					t.Fatalf("%s parsed as %q but absent", key, *got)
				}
				continue
			}
			if got == nil || want != *got {
				t.Fatalf("%s: parsed %v, encoding/json %v", key, got, want)
			}
		}
		if len(ref) > 4 {
			t.Fatalf("accepted unknown fields: %v", ref)
		}
	})
}

// FuzzHandler drives the whole handler with arbitrary bodies and content
// types: never a 5xx, never a panic.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"token":"a"}`), "application/json", "")
	f.Add([]byte(`{"username":"u"}`), "application/vnd.elasticsearch+json; compatible-with=8", "pretty")
	f.Fuzz(func(t *testing.T, body []byte, ct, query string) {
		r := httptest.NewRequest(http.MethodDelete, "/", bytes.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Authorization", superuser)
		w := httptest.NewRecorder()
		newHandler(&fakeCore{}).ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("invalid JSON answer: %s", w.Body)
		}
	})
}
