package rfc7009

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// checkRequest checks the one request the core got.
func checkRequest(t *testing.T, core *fakeCore, client, token, tokenType string) {
	t.Helper()
	got := core.requests()
	if len(got) != 1 {
		t.Fatalf("core got %d requests, want 1", len(got))
	}
	r := got[0]
	if r.Op != auth.OpRFC7009 || r.Principal == nil || r.Principal.ID != client || r.Client != client {
		t.Errorf("op %q, principal %v, client %q; want %q, %q", r.Op, r.Principal, r.Client, auth.OpRFC7009, client)
	}
	if r.Token == nil || r.Token.Sum != events.TokenKey(token) {
		t.Errorf("token = %+v, want the hash of %q", r.Token, token)
	}
	if r.TokenType != tokenType {
		t.Errorf("token type = %q, want %q", r.TokenType, tokenType)
	}
	if r.Realm != "" || r.User != "" || len(r.Aliases) != 0 {
		t.Errorf("unexpected fields in %+v", r)
	}
	// a refresh token takes its grant's access tokens; only the client's own tokens
	if r.Chaining != publisher.ChainGrant || !r.OwnedByClient {
		t.Errorf("chaining %q, owned by client %v; want the grant, owned", r.Chaining, r.OwnedByClient)
	}
}

func TestSuccess(t *testing.T) {
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const tok = "2YotnFZFEjr1zCsicMWpAA+/= é"
	cases := []struct {
		name              string
		c                 call
		client, token, tt string
	}{
		{"Basic, access token", call{body: form("token", tok, "token_type_hint", "access_token")}, demoID, tok, events.AccessToken},
		{"Basic, no hint", call{body: form("token", tok)}, demoID, tok, ""},
		{"body credentials, refresh token", call{auth: "-", body: form("client_id", demoID, "client_secret", demoSecret,
			"token", "r1", "token_type_hint", "refresh_token")}, demoID, "r1", events.RefreshToken},
		{"Basic and body agree", call{body: form("client_id", demoID, "client_secret", demoSecret, "token", tok)}, demoID, tok, ""},
		{"Basic and body client_id only", call{body: form("client_id", demoID, "token", tok)}, demoID, tok, ""},
		{"form-urlencoded Basic", call{auth: basicEncoded(oddID, oddSecret), body: form("token", tok)}, oddID, tok, ""},
		{"raw Basic of the same client", call{auth: basic(oddID, oddSecret), body: form("token", tok)}, oddID, tok, ""},
		{"form-urlencoded Basic and decoded body agree", call{auth: basicEncoded(oddID, oddSecret),
			body: form("client_id", oddID, "client_secret", oddSecret, "token", tok)}, oddID, tok, ""},
		{"body credentials needing encoding", call{auth: "-", body: form("client_id", oddID, "client_secret", oddSecret, "token", tok)}, oddID, tok, ""},
		{"empty fields count as absent", call{body: "client_id=&client_secret=&token=abc&token_type_hint="}, demoID, "abc", ""},
		{"empty duplicate counts as absent", call{body: "token=&token=abc"}, demoID, "abc", ""},
		{"unknown parameters ignored", call{body: "token=abc&scope=x&foo"}, demoID, "abc", ""},
		{";charset=UTF-8", call{contentType: "application/x-www-form-urlencoded;charset=UTF-8", body: "token=abc"}, demoID, "abc", ""},
		{"; charset=utf-8, type in capitals", call{contentType: "Application/X-WWW-Form-Urlencoded; charset=utf-8", body: "token=abc"}, demoID, "abc", ""},
		{"token of the maximum length", call{body: "token=" + strings.Repeat("a", publisher.MaxTokenLen)}, demoID, strings.Repeat("a", publisher.MaxTokenLen), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := &fakeCore{}
			w := do(t, New(core, Options{Auth: testAuth}), tc.c)
			if w.Code != 200 || w.Body.Len() != 0 {
				t.Fatalf("answer %d %q, want 200 with no body", w.Code, w.Body)
			}
			checkHeaders(t, w, "", map[string]string{"WWW-Authenticate": "", "Retry-After": ""})
			checkRequest(t, core, tc.client, tc.token, tc.tt)
		})
	}
}

// Core errors reach the client as RFC 6749 errors; only the 503 is logged,
// never with the token.
func TestCoreErrors(t *testing.T) {
	p := auth.NewPrincipal(auth.KindClient, demoID, []string{"rfc7009"}, []string{"r1"})
	cases := []struct {
		name   string
		err    error
		status int
		body   string
		retry  string
	}{
		{"may not use the format", &publisher.ForbiddenError{Principal: p, Op: auth.OpRFC7009}, 400,
			oauthErr("unauthorized_client", "client DemoClient may not use the RFC 7009 revocation endpoint"), ""},
		{"realm", fmt.Errorf("wrapped: %w", &publisher.ForbiddenError{Principal: p, Realm: "Other"}), 400,
			oauthErr("unauthorized_client", "client DemoClient may not revoke tokens of realm [Other]"), ""},
		{"unknown realm", &publisher.ForbiddenError{Principal: p, AllRealms: true}, 400,
			oauthErr("unauthorized_client", "client DemoClient may not revoke this token: its realm is unknown, and only a client allowed in every realm may"), ""},
		{"invalid", fmt.Errorf("%w: a name is longer than 1024 bytes", publisher.ErrInvalidRequest), 400,
			oauthErr("invalid_request", "invalid revocation request: a name is longer than 1024 bytes"), ""},
		{"over a realm's quota", &publisher.BudgetError{Realm: "DemoDomain", Limit: 10, Live: 10, Asked: 1}, 429, oauthErr("quota_exceeded", "realm [DemoDomain] may hold at most 10 live revocations (10 live now, 1 more asked); to revoke a large scope, revoke its realm, user or consent: an issued-before rule is one entry"), ""},
		{"unavailable", fmt.Errorf("%w: stream down", publisher.ErrUnavailable), 503,
			oauthErr("temporarily_unavailable", "the revocation could not be stored; retry"), "1"},
		{"any other error", errors.New("boom"), 503,
			oauthErr("temporarily_unavailable", "the revocation could not be stored; retry"), "1"},
	}
	const tok = "secret-token-value-1234"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			core := &fakeCore{err: tc.err}
			w := do(t, New(core, Options{Auth: testAuth, Log: zerolog.New(&logs)}), call{body: "token=" + tok})
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Errorf("answer %d %s, want %d %s", w.Code, w.Body, tc.status, tc.body)
			}
			checkHeaders(t, w, "application/json", map[string]string{"Retry-After": tc.retry, "WWW-Authenticate": ""})
			checkRequest(t, core, demoID, tok, "")
			if strings.Contains(logs.String(), tok) || strings.Contains(w.Body.String(), tok) {
				t.Errorf("the token was logged or echoed: %s", logs.String())
			}
			if logged := strings.Contains(logs.String(), `"client":"DemoClient"`); logged != (tc.status == 503) {
				t.Errorf("logged = %v for status %d: %s", logged, tc.status, logs.String())
			}
		})
	}
}

// After the burst of failures from an address, even the right secret is
// refused there with 429 until Retry-After, and the core is not reached;
// from another address the right secret works.
func TestRateLimited(t *testing.T) {
	core := &fakeCore{}
	h := New(core, Options{Auth: newStore(1, 1)})
	const from = "203.0.113.7:4444"
	if w := do(t, h, call{auth: basic(demoID, "wrong"), body: "token=abc", remote: from}); w.Code != 401 {
		t.Fatalf("wrong secret: %d %s", w.Code, w.Body)
	}
	for name, c := range map[string]call{
		"Basic": {auth: basic(demoID, demoSecret), body: "token=abc", remote: from},
		"body":  {auth: "-", body: "client_id=DemoClient&client_secret=welcome1&token=abc", remote: from},
	} {
		w := do(t, h, c)
		if w.Code != 429 {
			t.Fatalf("%s: status %d %s, want 429", name, w.Code, w.Body)
		}
		retry := w.Header().Get("Retry-After")
		// 1 failure a minute: the next attempt is allowed in just under 60s.
		if n, err := strconv.Atoi(retry); err != nil || n < 50 || n > 60 {
			t.Fatalf("%s: Retry-After = %q", name, retry)
		}
		want := oauthErr("too_many_requests", "too many failed authentication attempts; retry after "+retry+" seconds")
		if w.Body.String() != want {
			t.Errorf("%s: body %s, want %s", name, w.Body, want)
		}
		checkHeaders(t, w, "application/json", map[string]string{"WWW-Authenticate": ""})
	}
	if got := core.requests(); len(got) != 0 {
		t.Errorf("a rate-limited request reached the core: %+v", got)
	}
	// another address: the id's failure slows it down (auth.MaxSlowdown), no more
	start := time.Now()
	if w := do(t, h, call{body: "token=abc"}); w.Code != 200 {
		t.Fatalf("the right secret from another address: %d %s", w.Code, w.Body)
	}
	if took := time.Since(start); took > auth.MaxSlowdown+5*time.Second {
		t.Errorf("the right secret from another address took %v", took)
	}
}
