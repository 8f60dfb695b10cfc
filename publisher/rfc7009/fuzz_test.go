package rfc7009

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// fuzzAuth passes the test clients' right credentials to a real store
// (which remembers them, so they are cheap) and fails every other at once:
// the real store spends a deliberately slow hash on each failure, which
// would leave the fuzzer little time for anything else. Id "limited" is
// rate-limited.
type fuzzAuth struct{ store *auth.Store }

func (a fuzzAuth) Authenticate(kind auth.Kind, peer string, creds ...auth.Creds) (*auth.Principal, error) {
	for _, c := range creds {
		if c.ID == "limited" {
			return nil, &auth.RateLimitedError{RetryAfter: 1500 * time.Millisecond}
		}
		if c == (auth.Creds{ID: demoID, Secret: demoSecret}) || c == (auth.Creds{ID: oddID, Secret: oddSecret}) {
			return a.store.Authenticate(kind, peer, creds...)
		}
	}
	return nil, auth.ErrBadCredentials
}

var fuzzStore = fuzzAuth{newStore(1_000_000, 1_000_000)}

// coreErrors are what the fake core answers, by the fuzzed mode.
var coreErrors = []error{nil, publisher.ErrUnavailable, &publisher.ForbiddenError{Principal: auth.NewPrincipal(auth.KindClient, demoID, []string{"*"}, []string{"r"}), Realm: "x"},
	fmt.Errorf("%w: test", publisher.ErrInvalidRequest)}

// FuzzHandler drives the handler with arbitrary methods, content types,
// bodies and Authorization values: never a panic, never a 5xx but the 503 of
// a failing core, every answer no-store, every error a valid RFC 6749 body,
// every success an empty 200 after exactly one core call.
func FuzzHandler(f *testing.F) {
	good := basic(demoID, demoSecret)
	f.Add("POST", formType, "token=abc&token_type_hint=access_token", good, uint8(0))
	f.Add("POST", formType+";charset=UTF-8", "token=abc", basicEncoded(oddID, oddSecret), uint8(1))
	f.Add("POST", formType, "client_id=DemoClient&client_secret=welcome1&token=r&token_type_hint=refresh_token", "", uint8(2))
	f.Add("POST", formType, "client_id=&client_secret=&token=abc&token_type_hint=", good, uint8(3))
	f.Add("POST", formType, "token=a&token=b", good, uint8(0))
	f.Add("POST", formType, "token=%zz;x", "Basic !!!", uint8(0))
	f.Add("POST", formType, "client_id=limited&client_secret=x&token=abc", "", uint8(0))
	f.Add("GET", "", "", "", uint8(0))
	f.Add("POST", "application/json", `{"token":"a"}`, "Bearer x", uint8(0))
	f.Fuzz(func(t *testing.T, method, ct, body, authz string, mode uint8) {
		core := &fakeCore{err: coreErrors[int(mode)%len(coreErrors)]}
		r := &http.Request{Method: method, URL: &url.URL{Path: Route}, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), RemoteAddr: "192.0.2.1:1"}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		New(core, Options{Auth: fuzzStore}).ServeHTTP(w, r)
		got := core.requests()
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Pragma") != "no-cache" {
			t.Fatalf("status %d without no-store: %v", w.Code, w.Header())
		}
		if w.Code >= 500 && !(w.Code == 503 && len(got) == 1 && errors.Is(core.err, publisher.ErrUnavailable)) {
			t.Fatalf("status %d (core err %v, %d calls): %s", w.Code, core.err, len(got), w.Body)
		}
		if w.Code == 200 {
			if w.Body.Len() != 0 || len(got) != 1 || core.err != nil || got[0].Token == nil || got[0].Principal == nil {
				t.Fatalf("200 with body %q, %d core calls, core err %v", w.Body, len(got), core.err)
			}
			return
		}
		var e map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e) != 2 ||
			w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("status %d, not an RFC 6749 error body (%v): %q", w.Code, err, w.Body)
		}
		code, _ := e["error"].(string)
		desc, _ := e["error_description"].(string)
		if code == "" || desc == "" || (w.Code == 401) != (code == "invalid_client") ||
			(w.Code == 429) != (w.Header().Get("Retry-After") == "2" && code == "too_many_requests") {
			t.Fatalf("status %d, body %s", w.Code, w.Body)
		}
		if tok := tokenOf(body); len(tok) >= 16 && strings.Contains(w.Body.String(), tok) {
			t.Fatalf("the token was echoed: %s", w.Body)
		}
	})
}

func tokenOf(body string) string {
	v, _ := url.ParseQuery(body)
	return v.Get("token")
}
