package ssf

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Noticed while attacking the key fetch: redirects were followed with Go's
// default policy, so a jwks_uri or poll URL that must be https (http only
// to loopback) could be redirected to plain http elsewhere, and a poll's
// bearer token goes along on a redirect to the same host. A redirect must
// meet what the configured URL must.
func TestRedirectsMeetTheURLRules(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, "http://192.0.2.1/jwks", http.StatusFound) // plain http, not loopback
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/keys", http.StatusFound)
		default:
			w.Write([]byte(`{"keys":[]}`))
		}
	}))
	defer srv.Close()
	c := defaultHTTPClient()

	_, err := c.Get(srv.URL + "/away")
	if err == nil || !strings.Contains(err.Error(), "redirect refused") {
		t.Fatalf("a redirect to plain http elsewhere: %v, want it refused", err)
	}
	hits = 0
	_, err = c.Get(srv.URL + "/loop")
	if err == nil || !strings.Contains(err.Error(), "stopped after 5 redirects") || hits != maxRedirects {
		t.Fatalf("a redirect loop: %v after %d requests, want stopped after %d", err, hits, maxRedirects)
	}
	resp, err := c.Get(srv.URL + "/here")
	if err != nil {
		t.Fatalf("a redirect to loopback http: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a redirect to loopback http: %d", resp.StatusCode)
	}
}

// Noticed while attacking the logout route (open to anyone): a refusal for
// want of a key quoted the last fetch's error, which names the key server's
// address (a connection refused says where it tried), and a key set never
// fetched said it was fetched 2562047h47m16s ago. The answer says a fetch
// failed; the log says why.
func TestAFailedFetchIsNotQuotedToTheCaller(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there any more: the fetch's error names the address
	host := strings.TrimPrefix(gone.URL, "http://")
	e := newEnv(t, func(o *Options) { o.Transmitters[0].JWKSURI = gone.URL + "/jwks" })
	a := e.logout(e.tr.LogoutToken(logoutAud, "sid-1", ""))
	if a.code != 400 || !strings.Contains(a.body, "the last fetch failed") || !strings.Contains(a.body, "never fetched") {
		t.Fatalf("a token with no key to check it: %d %s", a.code, a.body)
	}
	if strings.Contains(a.body, host) || strings.Contains(a.body, "2562047h") {
		t.Fatalf("the answer quotes the fetch's error or a nonsense age: %s", a.body)
	}
}
