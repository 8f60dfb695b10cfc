package onelogin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

func body403(msg string) string {
	return `{"status":{"error":true,"code":403,"type":"Forbidden","message":"` + msg + `"}}`
}

func TestCoreErrorsAreRendered(t *testing.T) {
	p := auth.NewPrincipal(auth.KindClient, clientID, []string{"onelogin"}, []string{"acme"})
	client := "Client [" + clientID + "]"
	cases := []struct {
		name       string
		err        error
		status     int
		body       string
		retryAfter string
	}{
		{"may not use the format", &publisher.ForbiddenError{Principal: p, Op: auth.OpOneLogin}, 403,
			body403(client + " may not use this endpoint"), ""},
		{"realm", &publisher.ForbiddenError{Principal: p, Realm: "globex"}, 403,
			body403(client + " may not revoke tokens of realm [globex]"), ""},
		{"unknown realm", &publisher.ForbiddenError{Principal: p, AllRealms: true}, 403,
			body403(client + " may not revoke tokens of an unknown realm"), ""},
		{"wrapped forbidden", fmt.Errorf("authorize: %w", &publisher.ForbiddenError{Principal: p, Realm: `a"<b>`}), 403,
			body403(client + ` may not revoke tokens of realm [a\"<b>]`), ""},
		{"long realm is cut", &publisher.ForbiddenError{Principal: p, Realm: strings.Repeat("r", 300)}, 403,
			body403(client + " may not revoke tokens of realm [" + strings.Repeat("r", 256) + "...]"), ""},
		{"invalid request", fmt.Errorf("%w: a name is longer than 1024 bytes", publisher.ErrInvalidRequest), 400,
			`{"status":{"error":true,"code":400,"type":"bad request","message":"invalid revocation request: a name is longer than 1024 bytes"}}`, ""},
		{"over a realm's quota", &publisher.BudgetError{Realm: "DemoDomain", Limit: 10, Live: 10, Asked: 1}, 429,
			`{"status":{"error":true,"code":429,"type":"Too Many Requests","message":"realm [DemoDomain] may hold at most 10 live revocations (10 live now, 1 more asked); to revoke a large scope, revoke its realm, user or consent: an issued-before rule is one entry"}}`, ""},
		{"unavailable", fmt.Errorf("%w: 1 of 1 revocations not stored: nats: timeout", publisher.ErrUnavailable), 503, body503, "1"},
		{"unexpected error", errors.New("boom"), 503, body503, "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			core := &fakeCore{err: tc.err}
			h := New(core, Options{Auth: testAuth, Log: zerolog.New(&logs)})
			w := do(t, h, call{contentType: jsonCT, body: sampleBody})
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Fatalf("%d %s\nwant %d %s", w.Code, w.Body, tc.status, tc.body)
			}
			checkHeaders(t, w, tc.retryAfter)
			checkRequest(t, core, sampleToken)
			logged := logs.String()
			if tc.status == 503 && (!strings.Contains(logged, `"level":"error"`) || !strings.Contains(logged, tc.err.Error()) ||
				!strings.Contains(logged, clientID)) {
				t.Errorf("503 not logged with its cause and client: %q", logged)
			}
			if tc.status != 503 && logged != "" {
				t.Errorf("logged %q", logged)
			}
			if strings.Contains(logged, sampleToken) {
				t.Errorf("the token was logged: %s", logged)
			}
		})
	}
}

// memStore is a publisher.Store in memory; it fails every append when down.
type memStore struct {
	mu      sync.Mutex
	down    bool
	entries []publisher.Entry
	seen    map[string]bool // subjects
}

func (m *memStore) Append(_ context.Context, entries []publisher.Entry) []publisher.Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]publisher.Outcome, len(entries))
	for i, e := range entries {
		switch {
		case m.down:
			out[i] = publisher.Outcome{Status: publisher.Failed, Err: errors.New("stream down")}
		case e.OnlyIfAbsent && m.seen[e.Subject]:
			out[i] = publisher.Outcome{Status: publisher.AlreadyPresent}
		default:
			m.seen[e.Subject] = true
			if len(e.Data) > 0 { // an event, not a ledger mark
				m.entries = append(m.entries, e)
			}
			out[i] = publisher.Outcome{Status: publisher.Stored}
		}
	}
	return out
}

// Against the real core: what it stores, what it refuses, and that a
// second revocation of the same token is still a success.
func TestWithTheRealCore(t *testing.T) {
	store := &memStore{seen: map[string]bool{}}
	core := publisher.NewCore(publisher.Config{}, store, nil, zerolog.Nop(), nil)
	creds := []auth.Credential{
		{Kind: auth.KindClient, ID: clientID, SecretHash: hash(clientSecret), Allow: []string{"onelogin"}, Realms: []string{"*"}},
		{Kind: auth.KindClient, ID: "oam-only", SecretHash: hash("pw"), Allow: []string{"oam"}, Realms: []string{"*"}},
		{Kind: auth.KindClient, ID: "acme-only", SecretHash: hash("pw"), Allow: []string{"onelogin"}, Realms: []string{"acme"}},
	}
	as, err := auth.NewStore(auth.Config{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	h := New(core, Options{Auth: as})
	for i := 0; i < 2; i++ {
		if w := do(t, h, call{contentType: jsonCT, body: sampleBody}); w.Code != 200 || w.Body.String() != body200 {
			t.Fatalf("revocation %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	// Each revocation stores the token's event (the latest wins on its
	// subject); only the first counts, by the ledger.
	if len(store.entries) != 2 {
		t.Fatalf("stored %d events, want one per revocation", len(store.entries))
	}
	for _, e := range store.entries {
		ev, err := events.Decode(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Token != events.TokenKey(sampleToken) || ev.TokenType != events.AccessToken || ev.Client != clientID {
			t.Errorf("stored %+v", ev)
		}
	}
	w := do(t, h, call{auth: "client_id:oam-only, client_secret:pw", contentType: jsonCT, body: sampleBody})
	if w.Code != 403 || w.Body.String() != body403("Client [oam-only] may not use this endpoint") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	w = do(t, h, call{auth: basic("acme-only", "pw"), contentType: jsonCT, body: sampleBody})
	if w.Code != 403 || w.Body.String() != body403("Client [acme-only] may not revoke tokens of an unknown realm") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	w = do(t, h, call{contentType: jsonCT, body: `{"access_token":"another"}`})
	if w.Code != 503 || w.Body.String() != body503 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}
