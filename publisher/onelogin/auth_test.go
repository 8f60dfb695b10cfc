package onelogin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// checkRequest asserts the canonical request a successful call produced.
func checkRequest(t *testing.T, core *fakeCore, token string) {
	t.Helper()
	got := core.requests()
	if len(got) != 1 {
		t.Fatalf("the core got %d requests", len(got))
	}
	r := got[0]
	if r.Op != auth.OpOneLogin || r.Principal == nil || r.Principal.ID != clientID || r.Client != clientID ||
		r.TokenType != events.AccessToken || r.Token == nil || r.Token.Sum != events.TokenKey(token) {
		t.Errorf("request = %+v", r)
	}
	if r.Realm != "" || r.User != "" || len(r.Aliases) != 0 {
		t.Errorf("request names more than the token: %+v", r)
	}
	// the access token with its refresh token, and only a token of this client
	if r.Chaining != publisher.ChainRelatedTokens || !r.OwnedByClient {
		t.Errorf("chaining %q, owned by client %v; want the pair, owned", r.Chaining, r.OwnedByClient)
	}
}

func TestBothAuthorizationFormsAuthenticate(t *testing.T) {
	for _, hdr := range []string{
		documented,
		"client_id:" + clientID + ",client_secret:" + clientSecret,
		"client_id: " + clientID + ", client_secret: " + clientSecret,
		"  client_id:" + clientID + " ,  client_secret:" + clientSecret + "  ",
		"client_secret:" + clientSecret + ", client_id:" + clientID,
		"Client_ID:" + clientID + ", Client_Secret:" + clientSecret,
		basic(clientID, clientSecret),
		"basic " + strings.TrimPrefix(basic(clientID, clientSecret), "Basic "),
		strings.TrimRight(basic(clientID, clientSecret), "="), // unpadded
	} {
		t.Run(hdr, func(t *testing.T) {
			core := &fakeCore{}
			w := do(t, newHandler(core), call{auth: hdr, contentType: jsonCT, body: sampleBody})
			if w.Code != 200 || w.Body.String() != body200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			checkRequest(t, core, sampleToken)
		})
	}
}

func TestJWTIsRevokedAsItsAccessToken(t *testing.T) {
	// header {"alg":"none"}, claims {"iss":"https://acme.onelogin.com/oidc/2","sub":"42","client_id":"c","exp":4102444800}
	jwt := "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2FjbWUub25lbG9naW4uY29tL29pZGMvMiIsInN1YiI6IjQyIiwiY2xpZW50X2lkIjoiYyIsImV4cCI6NDEwMjQ0NDgwMH0."
	core := &fakeCore{}
	w := do(t, newHandler(core), call{contentType: jsonCT, body: `{"access_token":"` + jwt + `"}`})
	if w.Code != 200 || w.Body.String() != body200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	checkRequest(t, core, jwt)
	if r := core.requests()[0]; !r.Token.JWT || r.Token.Claims.Subject != "42" {
		t.Errorf("claims not read: %+v", r.Token)
	}
}

func TestFailedAttemptsAreRateLimited(t *testing.T) {
	store, err := auth.NewStore(auth.Config{FailuresPerMinute: 1, FailureBurst: 2, Credentials: []auth.Credential{
		{Kind: auth.KindClient, ID: clientID, SecretHash: hash(clientSecret), Allow: []string{"onelogin"}, Realms: []string{"*"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	core := &fakeCore{}
	h := New(core, Options{Auth: store})
	send := func(hdr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, Route, strings.NewReader(sampleBody))
		r.RemoteAddr = "203.0.113.9:5000" // one attacker
		r.Header.Set("Content-Type", jsonCT)
		r.Header.Set("Authorization", hdr)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := 0; i < 2; i++ {
		if w := send(wrongSecretHeader); w.Code != 401 || w.Body.String() != body401 {
			t.Fatalf("attempt %d within the burst: %d %s", i+1, w.Code, w.Body)
		}
	}
	for _, hdr := range []string{wrongSecretHeader, documented, basic(clientID, clientSecret)} {
		w := send(hdr) // after the burst even the right secret waits
		ra := w.Header().Get("Retry-After")
		secs, err := strconv.Atoi(ra)
		if err != nil || secs < 1 || secs > 60 {
			t.Fatalf("Retry-After = %q", ra)
		}
		want := fmt.Sprintf(`{"status":{"error":true,"code":429,"type":"Too Many Requests","message":"Too many failed authentication attempts; retry after %d seconds"}}`, secs)
		if w.Code != 429 || w.Body.String() != want {
			t.Fatalf("%q: %d %s\nwant %s", hdr, w.Code, w.Body, want)
		}
		checkHeaders(t, w, ra)
	}
	if n := len(core.requests()); n != 0 {
		t.Fatalf("a rate-limited request reached the core (%d)", n)
	}
}

// The token never appears in an answer, whatever the answer is.
func TestTokenIsNeverEchoed(t *testing.T) {
	const secret = "SECRET-TOKEN-4f1c9e"
	for _, err := range []error{nil, publisher.ErrInvalidRequest, &publisher.ForbiddenError{Realm: "r"}, publisher.ErrUnavailable} {
		for _, c := range []call{
			{contentType: jsonCT, body: `{"access_token":"` + secret + `"}`},
			{contentType: jsonCT, body: `{"access_token":"` + secret + `"`},
			{contentType: "text/plain", body: `{"access_token":"` + secret + `"}`},
			{auth: "Bearer " + secret, contentType: jsonCT, body: `{"access_token":"` + secret + `"}`},
		} {
			w := do(t, newHandler(&fakeCore{err: err}), c)
			if strings.Contains(w.Body.String(), secret) || strings.Contains(fmt.Sprint(w.Header()), secret) {
				t.Errorf("token echoed: %d %s", w.Code, w.Body)
			}
		}
	}
}
