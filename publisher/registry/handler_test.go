package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

var testAuth = func() *auth.Store {
	h, err := auth.HashSecret("secret")
	if err != nil {
		panic(err)
	}
	s, err := auth.NewStore(auth.Config{Credentials: []auth.Credential{
		{Kind: auth.KindClient, ID: "issuer", SecretHash: h, Allow: []string{"register"}, Realms: []string{"saml1"}},
		{Kind: auth.KindClient, ID: "issuer-b", SecretHash: h, Allow: []string{"register"}, Realms: []string{"saml2"}},
		{Kind: auth.KindClient, ID: "revoker", SecretHash: h, Allow: []string{"rfc7009"}, Realms: []string{"*"}},
	}})
	if err != nil {
		panic(err)
	}
	return s
}()

func basic(id string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":secret"))
}

var peer atomic.Int64

func post(t *testing.T, h http.Handler, ct, body, authz string) (int, Result, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, Route, strings.NewReader(body))
	r.RemoteAddr = fmt.Sprintf("198.51.100.%d:9", peer.Add(1)%250+1)
	r.Header.Set("Content-Type", ct)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var res Result
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	return w.Code, res, w.Body.String()
}

// jtiLine is a record of the JWT with issuer iss and JWT ID jti.
func jtiLine(iss, jti, extra string) string {
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	return fmt.Sprintf(`{"iss":%q,"jti":%q,"type":"access_token","realm":"saml1","username":"alice","client_id":"app","expires_at":%q%s}`, iss, jti, exp, extra)
}

func line(tok, extra string) string {
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	return fmt.Sprintf(`{"token":%q,"type":"access_token","realm":"saml1","username":"alice","client_id":"app","expires_at":%q%s}`, tok, exp, extra)
}

// Every kind of bad input: a clear error for its line, nothing stored from
// it, and the good lines around it registered.
func TestBadLinesAreReportedAndStoreNothing(t *testing.T) {
	s := openStore(t)
	h := NewHandler(s, Options{Auth: testAuth, MaxTokenLifetime: 24 * time.Hour})
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	bad := []struct{ line, want string }{
		{`{"type":"access_token","realm":"saml1","username":"u","client_id":"c","expires_at":"` + exp + `"}`, "token, token_sha256, or iss and jti is required"},
		{`{"token":"x1","token_sha256":"` + events.TokenKey("x1").String() + `","type":"access_token","realm":"saml1","username":"u","client_id":"c","expires_at":"` + exp + `"}`, "not both"},
		{strings.Replace(line("x2", ""), `"access_token"`, `"id_token"`, 1), "type must be access_token or refresh_token"},
		{strings.Replace(line("x3", ""), `"username":"alice",`, ``, 1), "username is required"},
		{strings.Replace(line("x4", ""), exp, "tomorrow", 1), "expires_at is not an RFC 3339 time"},
		{strings.Replace(line("x5", ""), exp, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), 1), "expires_at is in the past"},
		{strings.Replace(line("x6", ""), exp, time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), 1), "more than --max-token-lifetime"},
		{strings.Replace(line("x7", ""), `"saml1"`, `"saml2"`, 1), "may not register tokens of realm [saml2]"},
		{line("x8", `,"colour":"blue"`), `unknown field "colour"`},
		{`{"token":"x9"`, "not a JSON record"},
		{line("x10", `,"parent":"x10"`), "cannot be its own parent"},
		{strings.Replace(line("x11", `,"parent":"p"`), "access_token", "refresh_token", 1), "only an access token has a parent"},
		{line("x12", `,"token_sha256x":"a"`), "unknown field"},
		{`{"token_sha256":"abc","type":"access_token","realm":"saml1","username":"u","client_id":"c","expires_at":"` + exp + `"}`, "SHA-256"},
		{line(strings.Repeat("y", MaxLineLen), ""), "line longer than 65536 bytes"},
		{jtiLine("https://idp", "j1", `,"token":"x13"`), "give one of token, token_sha256, or iss and jti"},
		{jtiLine("https://idp", "j2", `,"token_sha256":"`+events.TokenKey("x14").String()+`"`), "give one of token, token_sha256, or iss and jti"},
		{strings.Replace(jtiLine("https://idp", "j3", ""), `"iss":"https://idp",`, ``, 1), "jti needs its iss"},
		{strings.Replace(jtiLine("https://idp", "j4", ""), `"jti":"j4",`, ``, 1), "iss needs a jti"},
		{jtiLine("", "j5", ""), "iss must be 1 to 1024 bytes"},
		{jtiLine("https://idp", strings.Repeat("j", events.MaxNameLen+1), ""), "jti must be 1 to 1024 bytes"},
		{strings.Replace(jtiLine("https://idp", "j7", ""), `"saml1"`, `"saml2"`, 1), "may not register tokens of realm [saml2]"},
		{`{"token_sha256":"` + strings.Repeat("0", 64) + `","type":"access_token","realm":"saml1","username":"u","client_id":"c","expires_at":"` + exp + `"}`, "all zeros"},
	}
	var body strings.Builder
	body.WriteString(line("good-1", "") + "\n")
	for _, b := range bad {
		body.WriteString(b.line + "\n")
	}
	body.WriteString("\n   \n" + line("good-2", "") + "\n")
	code, res, raw := post(t, h, "application/x-ndjson", body.String(), basic("issuer"))
	if code != 200 || res.Registered != 2 || len(res.Errors) != len(bad) {
		t.Fatalf("%d %s", code, raw)
	}
	for i, b := range bad {
		e := res.Errors[i]
		if e.Line != i+2 || !strings.Contains(e.Error, b.want) {
			t.Errorf("line %d: %+v, want line %d saying %q", i+2, e, i+2, b.want)
		}
	}
	for i := 1; i <= 14; i++ {
		if got, _ := lookupOne(s, events.TokenKey(fmt.Sprint("x", i))); got != nil {
			t.Errorf("x%d was stored from a rejected line", i)
		}
	}
	for i := 1; i <= 7; i++ {
		if got, _ := lookupOne(s, events.JTIKey("https://idp", fmt.Sprint("j", i))); got != nil {
			t.Errorf("j%d was stored from a rejected line", i)
		}
	}
	for _, tok := range []string{"good-1", "good-2"} {
		if got, _ := lookupOne(s, events.TokenKey(tok)); got == nil {
			t.Errorf("%s not registered", tok)
		}
	}
	if strings.Contains(raw, "good-1") || strings.Contains(raw, "x7") {
		t.Error("a raw token is echoed in the answer")
	}
}

// SEEN (R1): a realm-A registrant pre-registered a realm-B token's hash, and
// B's issuer was refused (a conflict). Each realm's issuer registers its own
// record of the token, and reads back its own.
func TestAnotherRealmCannotSquatAToken(t *testing.T) {
	s := openStore(t)
	h := NewHandler(s, Options{Auth: testAuth, MaxTokenLifetime: 24 * time.Hour})
	squat := strings.Replace(line("b-token", ""), `"alice"`, `"mallory"`, 1)
	if code, res, raw := post(t, h, "application/x-ndjson", squat, basic("issuer")); code != 200 || res.Registered != 1 {
		t.Fatalf("realm A's registration: %d %s", code, raw)
	}
	mine := strings.Replace(line("b-token", ""), `"saml1"`, `"saml2"`, 1)
	if code, res, raw := post(t, h, "application/x-ndjson", mine, basic("issuer-b")); code != 200 || res.Registered != 1 {
		t.Fatalf("realm B's issuer registering its own token: %d %s", code, raw)
	}
	got, err := lookupOne(s, events.TokenKey("b-token"), "saml2")
	if err != nil || got == nil || got.User != "alice" || got.Realm != "saml2" {
		t.Fatalf("realm B's record: %+v %v", got, err)
	}
}

func TestFeedAuthenticationAndFormats(t *testing.T) {
	s := openStore(t)
	h := NewHandler(s, Options{Auth: testAuth, MaxTokenLifetime: 24 * time.Hour})
	if code, _, raw := post(t, h, "application/json", line("a", ""), ""); code != 401 || !strings.Contains(raw, "invalid_client") {
		t.Errorf("no credentials: %d %s", code, raw)
	}
	if code, _, raw := post(t, h, "application/json", line("a", ""), basic("revoker")); code != 403 || !strings.Contains(raw, "register permission") {
		t.Errorf("no register permission: %d %s", code, raw)
	}
	if code, _, raw := post(t, h, "text/plain", line("a", ""), basic("issuer")); code != 400 || !strings.Contains(raw, "Content-Type") {
		t.Errorf("text/plain: %d %s", code, raw)
	}
	if code, res, raw := post(t, h, "application/json", "  "+strings.ReplaceAll(line("single", ""), ",", ",\n  "), basic("issuer")); code != 200 || res.Registered != 1 {
		t.Errorf("one pretty-printed JSON object: %d %s", code, raw)
	}
	if code, res, raw := post(t, h, "application/x-ndjson", `{"broken`, basic("issuer")); code != 400 || res.Registered != 0 {
		t.Errorf("only bad lines: %d %s", code, raw)
	}
	sum := events.TokenKey("by-hash").String()
	ln := strings.Replace(line("", `,"parent_sha256":"`+events.TokenKey("p").String()+`"`), `"token":""`, `"token_sha256":"`+sum+`"`, 1)
	if code, res, raw := post(t, h, "application/x-ndjson", ln, basic("issuer")); code != 200 || res.Registered != 1 {
		t.Errorf("by hash: %d %s", code, raw)
	}
	if got, _ := lookupOne(s, events.TokenKey("by-hash")); got == nil || got.Parent != events.TokenKey("p") {
		t.Errorf("registered by hash: %+v", got)
	}
	// the same record twice in one request counts per line; a different one is refused
	body := line("twice", "") + "\n" + line("twice", "") + "\n" + strings.Replace(line("twice", ""), `"app"`, `"other"`, 1)
	code, res, raw := post(t, h, "application/x-ndjson", body, basic("issuer"))
	if code != 200 || res.Registered != 2 || len(res.Errors) != 1 || res.Errors[0].Line != 3 {
		t.Errorf("duplicates: %d %s", code, raw)
	}
}

func TestBusSubject(t *testing.T) {
	ns := natstest.Start(t)
	nc := natstest.Connect(t, ns)
	s, err := ensureOpen(nc, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := NewHandler(s, Options{Auth: testAuth, MaxTokenLifetime: 24 * time.Hour})
	sub, err := h.Serve(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil { // the server has the subscription before the request
		t.Fatal(err)
	}
	// An issuer's replies come to its own inbox, the only place a front answers.
	client, err := nats.Connect(ns.ClientURL(), nats.CustomInboxPrefix(natsauth.InboxPrefix(natsauth.Issuer, "idp-1")))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	msg, err := client.Request(events.RegistrySubject("saml1"), []byte(line("bus-1", "")+"\n"+line("bus-2", "")+"\n{nope}"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(msg.Data, &res); err != nil || res.Registered != 2 || len(res.Errors) != 1 {
		t.Fatalf("bus answer %s", msg.Data)
	}
	if got, _ := lookupOne(s, events.TokenKey("bus-2")); got == nil {
		t.Fatal("not registered over the bus")
	}
	// Seen: a realm-B token registered to another client through the bus
	// subject. A record of another realm than its subject's is refused.
	msg, err = client.Request(events.RegistrySubject("saml2"), []byte(line("bus-3", "")), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res = Result{}
	if err := json.Unmarshal(msg.Data, &res); err != nil || res.Registered != 0 || len(res.Errors) != 1 ||
		!strings.Contains(res.Errors[0].Error, "not the realm of the subject") {
		t.Fatalf("a saml1 record on saml2's subject: %s", msg.Data)
	}
	if got, _ := lookupOne(s, events.TokenKey("bus-3")); got != nil {
		t.Fatal("registered through another realm's subject")
	}
}

// fakeRegistrar registers everything, in memory (the fuzzer's store: the
// real one is too slow for it).
type fakeRegistrar struct{ n, biggest, malformed int }

func (f *fakeRegistrar) Register(_ context.Context, recs []publisher.Record) []error {
	f.n += len(recs)
	f.biggest = max(f.biggest, len(recs))
	for _, r := range recs {
		if r.Sum.IsZero() || r.Realm == "" || r.User == "" || r.Client == "" || r.Parent == r.Sum || r.ExpiresAt.IsZero() {
			f.malformed++
		}
	}
	return make([]error, len(recs))
}

func FuzzIngest(f *testing.F) {
	f.Add([]byte(line("a", "")+"\n"+line("b", "")), false)
	f.Add([]byte(`{"token":"x","type":"refresh_token"}`), true)
	f.Add([]byte("\n\n{}\n"), false)
	f.Add([]byte(line("a", "")+"\n"+line("a", "")+"\n"+strings.Replace(line("a", ""), "app", "other", 1)), false)
	f.Add([]byte(strings.Repeat("{}\n", 60)), false) // over the fuzz line cap
	f.Add([]byte(jtiLine("https://idp", "j", "")+"\n"+jtiLine("https://idp", "j", `,"parent":"r"`)), false)
	f.Add([]byte(jtiLine("https://idp", "j", `,"token":"t"`)), true)
	f.Add([]byte(`{"jti":"only","type":"access_token"}`), true)
	p := auth.NewPrincipal(auth.KindClient, "fuzz", []string{"register"}, []string{"saml1"})
	const maxLines = 50
	f.Fuzz(func(t *testing.T, body []byte, single bool) {
		fr := &fakeRegistrar{}
		res := ingest(context.Background(), fr, p, limits{maxLifetime: time.Hour, maxLines: maxLines}, strings.NewReader(string(body)), single)
		if res.Registered < fr.n {
			t.Fatalf("registered %d but stored %d", res.Registered, fr.n)
		}
		if fr.malformed > 0 {
			t.Fatalf("%d malformed records reached the store", fr.malformed)
		}
		if fr.biggest > chunkLines {
			t.Fatalf("a Register call of %d records", fr.biggest)
		}
		prev := 0
		for _, e := range res.Errors {
			if e.Line <= prev || e.Line > maxLines || e.Error == "" {
				t.Fatalf("bad error entry %+v after line %d", e, prev)
			}
			prev = e.Line
		}
		if handled := res.Registered + len(res.Errors) + res.ErrorsOmitted; handled > maxLines {
			t.Fatalf("%d lines accounted for, the cap is %d", handled, maxLines)
		}
		if (res.Error != "") != (res.LastStoredLine != nil) || res.LastStoredLine != nil && *res.LastStoredLine > maxLines {
			t.Fatalf("cut %q, last stored line %v, %d registered", res.Error, res.LastStoredLine, res.Registered)
		}
	})
}

// A chunked body over the limit (no Content-Length to refuse it up front):
// the lines read are registered, the cut is reported as the input's fault,
// naming the last line stored.
func TestBodyOverTheLimitIsTheInputsFault(t *testing.T) {
	s := openStore(t)
	h := NewHandler(s, Options{Auth: testAuth, MaxTokenLifetime: 24 * time.Hour, MaxBody: 4096})
	var body strings.Builder
	for i := 0; body.Len() < 8192; i++ {
		body.WriteString(line(fmt.Sprint("big-", i), "") + "\n")
	}
	r := httptest.NewRequest(http.MethodPost, Route, strings.NewReader(body.String()))
	r.ContentLength = -1 // chunked
	r.Header.Set("Content-Type", "application/x-ndjson")
	r.Header.Set("Authorization", basic("issuer"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var res Result
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	if w.Code != 200 || res.Registered == 0 || len(res.Errors) != 0 || !strings.Contains(res.Error, "larger than 4096 bytes") ||
		res.LastStoredLine == nil || *res.LastStoredLine != res.Registered ||
		!strings.Contains(res.Error, fmt.Sprintf("nothing from line %d on was read", res.Registered+1)) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
