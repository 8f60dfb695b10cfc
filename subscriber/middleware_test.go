package subscriber

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// lenientAuth stands for a resource server's own authentication as many
// are written: any Authorization header, scheme and token split on any
// whitespace. It accepts every token but "revoked-token" only because the
// middleware in front of it should have refused that one.
var lenientAuth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	for _, v := range r.Header.Values("Authorization") {
		if f := strings.Fields(v); len(f) == 2 && strings.EqualFold(f[0], "bearer") && f[1] == "revoked-token" {
			w.WriteHeader(http.StatusOK) // the revoked token got through
			return
		}
	}
	w.WriteHeader(http.StatusTeapot)
})

// A revoked token must not reach the handler behind Middleware in any
// spelling the handler may accept: a tab after the scheme, or a second
// Authorization header after a good one (seen: both were passed on as
// requests "without a token", and the handler let the revoked token in).
func TestMiddlewareRevokedTokenInOddSpellings(t *testing.T) {
	e := newEnv(t)
	e.append(t, revokeToken("revoked-token"))
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	srv := httptest.NewServer(Middleware(s, lenientAuth))
	defer srv.Close()

	for _, auth := range [][]string{
		{"Bearer revoked-token"},
		{"Bearer\trevoked-token"},
		{"bearer \t revoked-token"},
		{"Bearer good-token", "Bearer revoked-token"},
		{"DPoP revoked-token"}, // RFC 9449: a DPoP-bound token under its own scheme
		{"dpop\trevoked-token"},
		{"Bearer revoked-token, Bearer good-token"}, // two headers merged by a proxy
		{"Bearer good-token, Bearer revoked-token"},
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["Authorization"] = auth
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer error=") {
			t.Errorf("%q: %d %q, want 401 with WWW-Authenticate", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// A good token in any spelling, and no token, reach the handler.
	for _, auth := range []string{"Bearer good-token", "Bearer\tgood-token", "DPoP good-token", "Basic dXNlcjpwYXNz", ""} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTeapot {
			t.Errorf("%q: %d, want the handler's 418", auth, resp.StatusCode)
		}
	}
}
