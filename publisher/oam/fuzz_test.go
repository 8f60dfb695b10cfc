package oam

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/publisher/auth"
)

// fuzzAuth stands in for auth.Store in FuzzHandler: the store's argon2id
// (tens of milliseconds for every wrong guess) and its rate limiter would
// have the fuzzer spend its time hashing and answering 429. It knows
// DemoClientId:welcome1, rate-limits the id "limited", refuses the rest.
type fuzzAuth struct{}

var fuzzClient = auth.NewPrincipal(auth.KindClient, "DemoClientId", []string{"oam"}, []string{"DemoDomain"})

func (fuzzAuth) Authenticate(_ auth.Kind, _ string, creds ...auth.Creds) (*auth.Principal, error) {
	for _, c := range creds {
		switch {
		case c == auth.Creds{ID: "DemoClientId", Secret: "welcome1"}:
			return fuzzClient, nil
		case c.ID == "limited":
			return nil, &auth.RateLimitedError{RetryAfter: 1500 * time.Millisecond}
		}
	}
	return nil, auth.ErrBadCredentials
}

// FuzzHandler drives the whole handler with arbitrary bodies, content
// types, queries, identity-domain and Authorization headers: never a 5xx,
// never a panic, always one valid JSON object with the common headers, and
// the core reached exactly when the answer is 200, with a valid request.
func FuzzHandler(f *testing.F) {
	f.Add([]byte("token=abc"), mediaForm, "", "DemoDomain", demoClient)
	f.Add([]byte("token=LCbz%253D%253D%0A%257E&token_type=REFRESH_TOKEN&chaining_level=RELATED_TOKENS"), mediaForm+";charset=UTF-8", "identityDomain=Q", "", demoClient)
	f.Add([]byte("token=a&token_type_hint=access_token&token_type=NONE"), mediaForm, "identityDomain=Q", "H", demoClient)
	f.Add([]byte("token=a&token=b"), mediaForm, "", "DemoDomain", demoClient)
	f.Add([]byte("token=a%zz;x"), "text/plain", "identityDomain=%zz", "", "Basic "+b64("limited:x"))
	f.Add([]byte("token=%0D%0A"), mediaForm, "", "DemoDomain", "Bearer x")
	f.Fuzz(func(t *testing.T, body []byte, ct, query, domain, authz string) {
		r := httptest.NewRequest(http.MethodPost, Route, bytes.NewReader(body))
		r.URL.RawQuery = query
		r.Header = http.Header{"Content-Type": {ct}, "Authorization": {authz}, "X-Oauth-Identity-Domain-Name": {domain}}
		core := newCore()
		w := httptest.NewRecorder()
		New(core, Options{Auth: fuzzAuth{}, MaxBody: 4096}).ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var obj map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &obj); err != nil {
			t.Fatalf("not a JSON object of strings: %q", w.Body)
		}
		if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("headers %v", w.Header())
		}
		got := core.requests()
		if (w.Code == 200) != (len(got) == 1) || len(got) > 1 {
			t.Fatalf("status %d with %d core requests", w.Code, len(got))
		}
		if w.Code != 200 {
			if obj["error"] == "" || obj["error_description"] == "" {
				t.Fatalf("error answer without error or description: %q", w.Body)
			}
			return
		}
		req := got[0]
		if err := req.Validate(); err != nil || req.Token == nil || req.Realm == "" || len(req.Aliases) > 2 {
			t.Fatalf("invalid request reached the core (%v): %+v", err, req)
		}
		if req.Realm != domain && (domain != "" || !strings.Contains(query, "identityDomain")) {
			t.Fatalf("realm %q from header %q and query %q", req.Realm, domain, query)
		}
	})
}

// FuzzTokenSpelling checks the token normalization: it never panics, the
// canonical token has no line breaks, and every distinct spelling the
// client sent is kept.
func FuzzTokenSpelling(f *testing.F) {
	for _, s := range []string{"abc", "LCbz%3D%3D\n%7Ecs", "a%0Ab", " \t\r\n", "50%", "%zz", " a b ", "%2", "\r%0D\n", "%E2%82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, received string) {
		canonical, others := spellings(received)
		if strings.ContainsAny(canonical, "\r\n") {
			t.Fatalf("canonical %q has a line break", canonical)
		}
		clean := strings.Trim(strings.NewReplacer("\r", "", "\n", "").Replace(received), " \t")
		if (canonical == "") != (clean == "") {
			t.Fatalf("canonical %q of %q", canonical, received)
		}
		if canonical != clean {
			if d, err := url.PathUnescape(clean); err != nil || d != canonical {
				t.Fatalf("canonical %q is neither %q nor its decoding", canonical, clean)
			}
		}
		if len(others) > 2 {
			t.Fatalf("%d other spellings", len(others))
		}
		seen := map[string]bool{canonical: true}
		for _, o := range others {
			if seen[o] || o == "" {
				t.Fatalf("spelling %q repeated or empty in %q", o, others)
			}
			seen[o] = true
		}
		for _, s := range []string{received, clean} {
			if s != "" && !seen[s] {
				t.Fatalf("spelling %q lost: canonical %q, others %q", s, canonical, others)
			}
		}
	})
}
