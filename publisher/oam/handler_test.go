package oam

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// fakeCore records requests and answers a fixed result. It is locked: the
// seed replay calls it from an httptest.Server's goroutine.
type fakeCore struct {
	mu  sync.Mutex
	got []publisher.Request
	res publisher.Result
	err error
}

func newCore() *fakeCore { return &fakeCore{res: publisher.Result{Invalidated: 1}} }

func (f *fakeCore) Revoke(_ context.Context, r publisher.Request) (publisher.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
	return f.res, f.err
}

func (f *fakeCore) requests() []publisher.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]publisher.Request(nil), f.got...)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func mustHash(s string) string {
	h, err := auth.HashSecret(s)
	if err != nil {
		panic(err)
	}
	return h
}

// testAuth knows OAM's sample client, and a client whose id and secret need
// form-encoding. Its limits are loose: each request comes from its own
// address, and the few wrong secrets of the tables must not limit the id.
var testAuth = func() *auth.Store {
	s, err := auth.NewStore(auth.Config{FailuresPerMinute: 600, FailureBurst: 50, Credentials: []auth.Credential{
		{Kind: auth.KindClient, ID: "DemoClientId", SecretHash: mustHash("welcome1"), Allow: []string{"oam"}, Realms: []string{"DemoDomain"}},
		{Kind: auth.KindClient, ID: "my client", SecretHash: mustHash("p+ss"), Allow: []string{"oam"}, Realms: []string{"*"}},
	}})
	if err != nil {
		panic(err)
	}
	return s
}()

const demoClient = "Basic RGVtb0NsaWVudElkOndlbGNvbWUx" // DemoClientId:welcome1, from Oracle's sample

var nextPeer atomic.Int64

// peer returns an address no other request of the test binary uses, so the
// failures of one test do not rate-limit another.
func peer() string {
	n := nextPeer.Add(1)
	return fmt.Sprintf("10.%d.%d.%d:40000", n>>16&255, n>>8&255, n&255)
}

// call is one request; "" fields take the happy path's value and "-" leaves
// the header out.
type call struct {
	method      string // POST
	target      string // Route
	contentType string // application/x-www-form-urlencoded
	auth        string // demoClient
	domain      string // x-oauth-identity-domain-name: DemoDomain
	body        string
	header      http.Header // added as is
	remote      string      // peer()
}

func (c call) request() *http.Request {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(def(c.method, http.MethodPost), def(c.target, Route), body)
	r.RemoteAddr = def(c.remote, peer())
	for k, v := range map[string]string{"Content-Type": def(c.contentType, mediaForm), "Authorization": def(c.auth, demoClient),
		headerDomain: def(c.domain, "DemoDomain")} {
		if v != "-" {
			r.Header.Set(k, v)
		}
	}
	for k, vs := range c.header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func do(h http.Handler, c call) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, c.request())
	return w
}

func newHandler(core publisher.Revoker) *Handler { return New(core, Options{Auth: testAuth}) }

func errBody(code, desc string) string {
	return fmt.Sprintf(`{"error":%q,"error_description":%q}`, code, desc)
}

func badRequest(desc string) string { return errBody("invalid_request", desc) }

// checkAnswer checks the status, the exact body, the headers every answer
// carries, and that Allow, WWW-Authenticate and Retry-After are exactly
// those in want (absent when not listed).
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, status int, body string, want map[string]string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d", w.Code, status)
	}
	if got := w.Body.String(); got != body {
		t.Errorf("body =\n%s\nwant\n%s", got, body)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	for _, k := range []string{"Allow", "WWW-Authenticate", "Retry-After"} {
		if got := strings.Join(w.Header().Values(k), "|"); got != want[k] {
			t.Errorf("%s = %q, want %q", k, got, want[k])
		}
	}
}

// A client that form-encodes its id and secret before base64 (RFC 6749
// section 2.3.1) authenticates as well as one that does not.
func TestFormEncodedBasicCredentials(t *testing.T) {
	for _, creds := range []string{"my+client:p%2Bss", "my%20client:p%2Bss", "my client:p+ss"} {
		core := newCore()
		w := do(newHandler(core), call{auth: "Basic " + b64(creds), body: "token=abc"})
		if w.Code != 200 || len(core.requests()) != 1 || core.requests()[0].Principal.ID != "my client" {
			t.Errorf("%q: %d %s", creds, w.Code, w.Body)
		}
	}
}

func TestNilAuthenticatorRefusesEverything(t *testing.T) {
	core := newCore()
	w := do(New(core, Options{}), call{body: "token=abc"})
	checkAnswer(t, w, 401, errBody("invalid_client", "Client authentication failed"), map[string]string{"WWW-Authenticate": `Basic realm="oauth2"`})
	if len(core.requests()) != 0 {
		t.Error("the core was reached without an authenticator")
	}
}

// A failing store's error is logged (without the token) and answered 503.
func TestUnavailableIsLoggedWithoutTheToken(t *testing.T) {
	var logs strings.Builder
	core := newCore()
	core.err = fmt.Errorf("%w: stream down", publisher.ErrUnavailable)
	h := New(core, Options{Auth: testAuth, Log: zerolog.New(&logs)})
	w := do(h, call{body: "token=SeCrEtToKeN%253D"})
	checkAnswer(t, w, 503, errBody("temporarily_unavailable", "the revocation could not be stored; nothing was revoked; retry"),
		map[string]string{"Retry-After": "1"})
	if !strings.Contains(logs.String(), "stream down") || !strings.Contains(logs.String(), "DemoClientId") {
		t.Errorf("the failure was not logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), "SeCrEtToKeN") {
		t.Errorf("the token was logged: %q", logs.String())
	}
}
