package rfc7009

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// fakeCore records requests and answers err. Safe for concurrent use: the
// openid-client test calls it from the test server's goroutines.
type fakeCore struct {
	mu  sync.Mutex
	got []publisher.Request
	err error
}

func (f *fakeCore) Revoke(_ context.Context, r publisher.Request) (publisher.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
	if f.err != nil {
		return publisher.Result{}, f.err
	}
	return publisher.Result{Invalidated: 1}, nil
}

func (f *fakeCore) requests() []publisher.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]publisher.Request(nil), f.got...)
}

// Test clients. oddSecret needs form-urlencoding in Basic, and is not valid
// percent-encoding itself ("%rd"), so only one reading of it decodes.
const (
	demoID     = "DemoClient"
	demoSecret = "welcome1"
	oddID      = "web app"
	oddSecret  = "p+s/s=w:o%rd &x"
)

func hash(s string) string {
	h, err := auth.HashSecret(s)
	if err != nil {
		panic(err)
	}
	return h
}

func newStore(perMinute, burst int) *auth.Store {
	s, err := auth.NewStore(auth.Config{FailuresPerMinute: perMinute, FailureBurst: burst, Credentials: []auth.Credential{
		{Kind: auth.KindClient, ID: demoID, SecretHash: hash(demoSecret), Allow: []string{"rfc7009"}, Realms: []string{"*"}},
		{Kind: auth.KindClient, ID: oddID, SecretHash: hash(oddSecret), Allow: []string{"rfc7009"}, Realms: []string{"*"}},
	}})
	if err != nil {
		panic(err)
	}
	return s
}

var testAuth = newStore(600, 50)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// basicEncoded form-urlencodes id and secret first (RFC 6749 section 2.3.1).
func basicEncoded(id, secret string) string {
	return basic(url.QueryEscape(id), url.QueryEscape(secret))
}

type call struct {
	method, contentType, body string
	// auth is the Authorization header: "" sends DemoClient's Basic
	// credentials, "-" none. extraAuth adds a second one.
	auth, extraAuth string
	// remote is the peer's address: "" for one no other call uses.
	remote string
}

const formType = "application/x-www-form-urlencoded"

var nextPeer atomic.Int64

func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, Route, body)
	n := nextPeer.Add(1)
	r.RemoteAddr = fmt.Sprintf("198.51.%d.%d:1234", n/250%250, n%250+1) // failures of one test do not limit another
	if c.remote != "" {
		r.RemoteAddr = c.remote
	}
	switch c.contentType {
	case "":
		r.Header.Set("Content-Type", formType)
	case "-":
	default:
		r.Header.Set("Content-Type", c.contentType)
	}
	switch c.auth {
	case "":
		r.Header.Set("Authorization", basic(demoID, demoSecret))
	case "-":
	default:
		r.Header.Set("Authorization", c.auth)
	}
	if c.extraAuth != "" {
		r.Header.Add("Authorization", c.extraAuth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func oauthErr(code, desc string) string {
	return fmt.Sprintf(`{"error":%q,"error_description":%q}`+"\n", code, desc)
}

// checkHeaders checks the headers every answer carries, and that each of
// want is set as given ("" for absent).
func checkHeaders(t *testing.T, w *httptest.ResponseRecorder, contentType string, want map[string]string) {
	t.Helper()
	for k, v := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": contentType} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for k, v := range want {
		if got := strings.Join(w.Header().Values(k), ", "); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// Every refusal before the core, with its exact answer.
func TestRefusals(t *testing.T) {
	const ch = `Basic realm="revocast"`
	badClient := oauthErr("invalid_client", "client authentication failed")
	cases := []struct {
		name   string
		c      call
		status int
		body   string
		hdr    map[string]string // WWW-Authenticate, Allow, Retry-After: "" when absent
	}{
		{"GET", call{method: http.MethodGet}, 405, oauthErr("invalid_request", "use POST"), map[string]string{"Allow": "POST"}},
		{"PUT with a token", call{method: http.MethodPut, body: "token=abc"}, 405, oauthErr("invalid_request", "use POST"), map[string]string{"Allow": "POST"}},
		{"no content type", call{contentType: "-", body: "token=abc"}, 400, oauthErr("invalid_request", "Content-Type must be application/x-www-form-urlencoded"), nil},
		{"JSON", call{contentType: "application/json", body: `{"token":"abc"}`}, 400, oauthErr("invalid_request", "Content-Type must be application/x-www-form-urlencoded"), nil},
		{"multipart", call{contentType: "multipart/form-data; boundary=x", body: "token=abc"}, 400, oauthErr("invalid_request", "Content-Type must be application/x-www-form-urlencoded"), nil},
		{"body too large", call{body: "token=" + strings.Repeat("a", publisher.DefaultMaxBody)}, 413,
			oauthErr("invalid_request", fmt.Sprintf("request body is larger than %d bytes", publisher.DefaultMaxBody)), nil},
		{"bad escape", call{body: "token=%zz"}, 400, oauthErr("invalid_request", "request body is not valid application/x-www-form-urlencoded"), nil},
		{"semicolon", call{body: "token=a;b=c"}, 400, oauthErr("invalid_request", "request body is not valid application/x-www-form-urlencoded"), nil},
		{"token twice", call{body: "token=a&token=b"}, 400, oauthErr("invalid_request", "parameter token is given more than once"), nil},
		{"client_id twice", call{auth: "-", body: "client_id=a&client_id=b&token=t"}, 400, oauthErr("invalid_request", "parameter client_id is given more than once"), nil},
		{"unknown parameter twice, not echoed", call{body: "token=a&sEcReTvAlUe=1&sEcReTvAlUe=2"}, 400, oauthErr("invalid_request", "a parameter is given more than once"), nil},
		{"no credentials", call{auth: "-", body: "token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ch}},
		{"Basic, wrong secret", call{auth: basic(demoID, "welcome2"), body: "token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ch}},
		{"Basic, unknown id", call{auth: basic("nobody", demoSecret), body: "token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ch}},
		{"Basic, empty secret", call{auth: basic(demoID, ""), body: "token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ch}},
		{"Basic, malformed", call{auth: "Basic !!!", body: "token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ch}},
		{"Bearer", call{auth: "Bearer abc", body: "token=abc&client_id=DemoClient&client_secret=welcome1"}, 401, badClient, map[string]string{"WWW-Authenticate": ch}},
		{"two Authorization headers", call{extraAuth: basic(demoID, demoSecret), body: "token=abc"}, 400, oauthErr("invalid_request", "the Authorization header is given more than once"), nil},
		{"body, client_id only", call{auth: "-", body: "client_id=DemoClient&token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ""}},
		{"body, client_secret only", call{auth: "-", body: "client_secret=welcome1&token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ""}},
		{"body, wrong secret", call{auth: "-", body: "client_id=DemoClient&client_secret=welcome2&token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ""}},
		{"body, unknown id", call{auth: "-", body: "client_id=nobody&client_secret=welcome1&token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ""}},
		{"body picks the undecoded reading of Basic", call{auth: basicEncoded(oddID, oddSecret),
			body: "client_id=" + url.QueryEscape(url.QueryEscape(oddID)) + "&token=abc"}, 401, badClient, map[string]string{"WWW-Authenticate": ch}},
		{"Basic and body differ", call{body: "client_id=DemoClient&client_secret=other&token=abc"}, 400,
			oauthErr("invalid_request", "client credentials in the Authorization header and the body differ"), nil},
		{"Basic and body id differ", call{body: "client_id=Other&token=abc"}, 400,
			oauthErr("invalid_request", "client credentials in the Authorization header and the body differ"), nil},
		{"no token", call{body: "token_type_hint=access_token"}, 400, oauthErr("invalid_request", "token is required"), nil},
		{"empty token", call{body: "token="}, 400, oauthErr("invalid_request", "token is required"), nil},
		{"empty body", call{}, 400, oauthErr("invalid_request", "token is required"), nil},
		{"token too long", call{body: "token=" + strings.Repeat("a", publisher.MaxTokenLen+1)}, 400,
			oauthErr("invalid_request", fmt.Sprintf("token is longer than %d bytes", publisher.MaxTokenLen)), nil},
		{"unknown hint", call{body: "token=abc&token_type_hint=id_token"}, 400,
			oauthErr("unsupported_token_type", "token_type_hint must be access_token or refresh_token"), nil},
		{"hint in another case", call{body: "token=abc&token_type_hint=Access_Token"}, 400,
			oauthErr("unsupported_token_type", "token_type_hint must be access_token or refresh_token"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := &fakeCore{}
			w := do(t, New(core, Options{Auth: testAuth}), tc.c)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Body.String(); got != tc.body {
				t.Errorf("body =\n%s\nwant\n%s", got, tc.body)
			}
			want := map[string]string{"WWW-Authenticate": "", "Allow": "", "Retry-After": ""}
			for k, v := range tc.hdr {
				want[k] = v
			}
			checkHeaders(t, w, "application/json", want)
			if got := core.requests(); len(got) != 0 {
				t.Errorf("a refused request reached the core: %+v", got)
			}
		})
	}
}
