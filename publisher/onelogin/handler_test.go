package onelogin

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

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// fakeCore records requests and answers a fixed result. It is locked: the
// curl test calls it from the server's goroutine.
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

// The test client, as OneLogin's API credentials look.
const (
	clientID     = "0b8a9c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b"
	clientSecret = "5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"
	// documented is the Authorization header in OneLogin's documented form.
	documented = "client_id:" + clientID + ", client_secret:" + clientSecret
	// sampleToken is the access token of OneLogin's sample request body.
	sampleToken = "xx508xx63817x752xx74004x30705xx92x58349x5x78f5xx34x8x614xxxx1451"
)

func hash(s string) string {
	h, err := auth.HashSecret(s)
	if err != nil {
		panic(err)
	}
	return h
}

var testAuth = func() *auth.Store {
	s, err := auth.NewStore(auth.Config{FailuresPerMinute: 60, FailureBurst: 5, Credentials: []auth.Credential{
		{Kind: auth.KindClient, ID: clientID, SecretHash: hash(clientSecret), Allow: []string{"onelogin"}, Realms: []string{"*"}},
	}})
	if err != nil {
		panic(err)
	}
	return s
}()

func newHandler(core publisher.Revoker) *Handler {
	return New(core, Options{Auth: testAuth})
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

type call struct {
	method, contentType, body string
	// auth is the Authorization header; "" sends the documented form with
	// the test client's credentials, "-" sends none.
	auth string
}

var nextPeer atomic.Int64

// peer returns an address no other request uses, so that the failures of
// one test do not rate-limit another.
func peer() string {
	n := nextPeer.Add(1)
	return fmt.Sprintf("198.51.%d.%d:4711", n/250%250, n%250+1)
}

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
	r.RemoteAddr = peer()
	if c.contentType != "" {
		r.Header.Set("Content-Type", c.contentType)
	}
	switch c.auth {
	case "":
		r.Header.Set("Authorization", documented)
	case "-":
	default:
		r.Header.Set("Authorization", c.auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkHeaders asserts the headers every answer carries, and a Retry-After
// of exactly retryAfter ("": none).
func checkHeaders(t *testing.T, w *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := w.Header().Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
	if got, want := w.Header().Get("Content-Length"), fmt.Sprint(w.Body.Len()); got != want {
		t.Errorf("Content-Length = %q, body is %s bytes", got, want)
	}
}
