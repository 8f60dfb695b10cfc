package onelogin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// fuzzAuth authenticates without the deliberately slow hash, so the fuzzer
// spends its time in the handler: "fuzz"/"s3cret" passes, "limited" is
// rate-limited, anything else fails.
type fuzzAuth struct{}

func (fuzzAuth) Authenticate(kind auth.Kind, _ string, creds ...auth.Creds) (*auth.Principal, error) {
	switch {
	case kind != auth.KindClient || len(creds) != 1:
		return nil, fmt.Errorf("unexpected call %s %v", kind, creds)
	case creds[0].ID == "fuzz" && creds[0].Secret == "s3cret":
		return auth.NewPrincipal(auth.KindClient, "fuzz", []string{"onelogin"}, []string{"*"}), nil
	case creds[0].ID == "limited":
		return nil, &auth.RateLimitedError{RetryAfter: 1500 * time.Millisecond}
	}
	return nil, auth.ErrBadCredentials
}

// fuzzCoreErrors are what the fake core answers, chosen by the fuzzer.
var fuzzCoreErrors = []error{nil, &publisher.ForbiddenError{Realm: "r"},
	fmt.Errorf("%w: x", publisher.ErrInvalidRequest), fmt.Errorf("%w: x", publisher.ErrUnavailable)}

// FuzzHandler drives the whole handler with arbitrary methods, bodies,
// content types and Authorization headers: never a panic, never a 5xx the
// core did not cause, always one compact status object.
func FuzzHandler(f *testing.F) {
	f.Add("POST", []byte(sampleBody), jsonCT, "client_id:fuzz, client_secret:s3cret", uint8(0))
	f.Add("POST", []byte(sampleBodyPretty), oneLoginSampleCT, basic("fuzz", "s3cret"), uint8(3))
	f.Add("POST", []byte(`{"access_token":12}`), jsonCT, "client_id:limited, client_secret:x", uint8(1))
	f.Add("GET", []byte(`{}`), "text/plain", "Bearer x", uint8(2))
	f.Add("POST", []byte(`{"access_token":"a","access_token":""}`), "application/json;charset=utf-8", "client_secret:s3cret,client_id:fuzz", uint8(0))
	f.Fuzz(func(t *testing.T, method string, body []byte, ct, authz string, mode uint8) {
		coreErr := fuzzCoreErrors[int(mode)%len(fuzzCoreErrors)]
		core := &fakeCore{err: coreErr}
		r := httptest.NewRequest(http.MethodPost, Route, bytes.NewReader(body))
		r.Method = method // any string, even one net/http would refuse
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Authorization", authz)
		w := httptest.NewRecorder()
		New(core, Options{Auth: fuzzAuth{}, MaxBody: 4096}).ServeHTTP(w, r)

		switch w.Code {
		case 200, 400, 401, 403, 404, 413, 429:
		case 503:
			if !errors.Is(coreErr, publisher.ErrUnavailable) {
				t.Fatalf("503 the core did not cause: %s", w.Body)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if method != http.MethodPost && w.Code != 404 {
			t.Fatalf("method %q answered %d", method, w.Code)
		}
		var got Response
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil || dec.More() {
			t.Fatalf("not one status object (%v): %s", err, w.Body)
		}
		st := got.Status
		if st.Code != w.Code || st.Error != (w.Code != 200) || st.Type == "" || st.Message == "" {
			t.Fatalf("status %d answered %+v", w.Code, st)
		}
		if again := marshal(st.Code, st.Type, st.Message); !bytes.Equal(again, w.Body.Bytes()) {
			t.Fatalf("not in the canonical rendering:\n%s\n%s", w.Body, again)
		}
		if w.Header().Get("Content-Type") != jsonCT || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("headers %v", w.Header())
		}
		reached := len(core.requests())
		fromCore := w.Code == 200 || w.Code == 403 || w.Code == 503 ||
			w.Code == 400 && errors.Is(coreErr, publisher.ErrInvalidRequest) && st.Message == coreErr.Error()
		if (reached == 1) != fromCore {
			t.Fatalf("status %d but the core got %d requests", w.Code, reached)
		}
		if reached == 1 {
			if req := core.requests()[0]; req.Token == nil || req.Principal == nil || req.Client != "fuzz" {
				t.Fatalf("request %+v", req)
			}
		}
	})
}

// FuzzAccessToken checks that an accepted token is non-empty, bounded, and
// what encoding/json reads as the body's access_token.
func FuzzAccessToken(f *testing.F) {
	for _, s := range []string{sampleBody, sampleBodyPretty, `{}`, `{"access_token":null}`, `{"access_token":"\u00e9\ud800"}`,
		`{"access_token":"a","access_token":"b"}`, `[]`, `{"access_token":"a"} x`, "\xef\xbb\xbf{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tok, err := accessToken(in)
		if err != nil {
			if !errors.Is(err, errTokenMissing) && !errors.Is(err, errTokenTooLong) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if tok == "" || len(tok) > publisher.MaxTokenLen {
			t.Fatalf("accepted %q", tok)
		}
		var ref map[string]any
		if err := json.Unmarshal(in, &ref); err != nil || ref["access_token"] != tok {
			t.Fatalf("parsed %q, encoding/json %v (%v)", tok, ref["access_token"], err)
		}
	})
}
