package ssf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/revocast/revocast/internal/ssftest"
)

// Seen from outside: an anonymous caller posted a logout token naming an
// unknown kid and closed its connection at once. The JWKS fetch it started
// was cancelled with its request and still counted as the attempt, so for
// jwks_min_refresh the transmitter's rotated key stayed unknown and its
// signals were refused (invalid_key); repeated, rotation never happened.
// A fetch must not depend on the request that happened to start it.
func TestAClientGoneDoesNotCancelTheKeyFetch(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	e := newEnv(t, func(o *Options) { o.Now = func() time.Time { return time.Unix(0, clock.Load()) } })
	if a := e.logout(e.tr.LogoutToken(logoutAud, "sid-1", "")); a.code != 200 {
		t.Fatalf("before the rotation: %d %s", a.code, a.body)
	}
	e.tr.Rotate(ssftest.NewKey(t, "k2", jose.ES256), true)
	clock.Add(int64(2 * time.Second)) // past jwks_min_refresh (1s): an unknown kid may fetch again

	bogus := ssftest.SignWith(t, ssftest.NewKey(t, "bogus", jose.ES256), ssftest.Claims{"iss": issuer}, "logout+jwt")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client is gone, as net/http tells a handler
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, LogoutRoute,
		strings.NewReader(url.Values{"logout_token": {bogus}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e.rcv.LogoutHandler().ServeHTTP(httptest.NewRecorder(), req)

	if a := e.logout(e.tr.LogoutToken(logoutAud, "sid-2", "")); a.code != 200 {
		t.Fatalf("a token signed with the rotated key, after an abandoned request: %d %s", a.code, a.body)
	}
	_, set := e.tr.SET(ssftest.CredentialChange, nil, map[string]any{"format": "iss_sub", "iss": issuer, "sub": "alice"})
	if a := e.push(set); a.code != 202 {
		t.Fatalf("a SET signed with the rotated key: %d %s", a.code, a.body)
	}
}

// Seen from outside: with a jwks_uri that answers slowly, an anonymous
// logout token naming an unknown kid started a fetch that held the key
// set's lock for up to fetchTimeout (5 s), and every signal of that
// transmitter, with a key long held, waited behind it; repeatable every
// jwks_min_refresh. A token whose key is held must not wait for a fetch.
func TestAHeldKeyDoesNotWaitForAFetch(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	var blocked, inFetch atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var tr *ssftest.Transmitter
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if blocked.Load() {
			inFetch.Store(true)
			defer inFetch.Store(false)
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = w.Write(tr.JWKS())
	}))
	t.Cleanup(jwks.Close)
	e := newEnv(t, func(o *Options) {
		o.Transmitters[0].JWKSURI = jwks.URL
		o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	tr = e.tr
	if a := e.logout(tr.LogoutToken(logoutAud, "sid-1", "")); a.code != 200 {
		t.Fatalf("first logout: %d %s", a.code, a.body)
	}
	blocked.Store(true)
	clock.Add(int64(2 * time.Second))
	bogus := ssftest.SignWith(t, ssftest.NewKey(t, "bogus", jose.ES256), ssftest.Claims{"iss": issuer}, "logout+jwt")
	unknown := make(chan answer, 1)
	go func() {
		unknown <- e.post(LogoutRoute, url.Values{"logout_token": {bogus}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}()
	<-entered // the fetch is under way and stays so until released
	a := e.logout(tr.LogoutToken(logoutAud, "sid-2", ""))
	still := inFetch.Load()
	close(release)
	if a.code != 200 || !still {
		t.Fatalf("a token with a held key during a slow fetch: %d %s (answered while the fetch ran: %v)", a.code, a.body, still)
	}
	if u := <-unknown; u.code != 400 {
		t.Fatalf("the unknown kid: %d %s", u.code, u.body)
	}
}
