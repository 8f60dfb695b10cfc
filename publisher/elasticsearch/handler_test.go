package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// fakeCore records requests and answers a fixed result.
type fakeCore struct {
	got []publisher.Request
	res publisher.Result
	err error
}

func (f *fakeCore) Revoke(_ context.Context, r publisher.Request) (publisher.Result, error) {
	f.got = append(f.got, r)
	return f.res, f.err
}

type call struct {
	method, target, contentType, accept, body string
	// auth is the Authorization header; "" sends the test superuser's Basic
	// credentials, "-" sends none.
	auth string
}

var testAuth = func() *auth.Store {
	h := func(s string) string {
		v, err := auth.HashSecret(s)
		if err != nil {
			panic(err)
		}
		return v
	}
	s, err := auth.NewStore(auth.Config{FailuresPerMinute: 60, FailureBurst: 5, Credentials: []auth.Credential{
		{Kind: auth.KindUser, ID: "elastic", SecretHash: h("changeme"), Allow: []string{"*"}, Realms: []string{"*"}},
		{Kind: auth.KindAPIKey, ID: "VuaCfGcBCdbkQm-e5aOx", SecretHash: h("ui2lp2axTNmsyakw9tvNnw"), Allow: []string{"elasticsearch"}, Realms: []string{"*"}},
	}})
	if err != nil {
		panic(err)
	}
	return s
}()

func newHandler(core publisher.Revoker) *Handler {
	return New(core, Options{Auth: testAuth})
}

const superuser = "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==" // elastic:changeme

var nextPeer atomic.Int64

func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodDelete
	}
	if c.target == "" {
		c.target = Route
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, c.target, body)
	r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", nextPeer.Add(1)%250+1) // failures of one test do not limit another
	if c.contentType != "" {
		r.Header.Set("Content-Type", c.contentType)
	}
	if c.accept != "" {
		r.Header.Set("Accept", c.accept)
	}
	switch c.auth {
	case "":
		r.Header.Set("Authorization", superuser)
	case "-":
	default:
		r.Header.Set("Authorization", c.auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func esErr(status int, typ, reason string) string {
	return fmt.Sprintf(`{"error":{"root_cause":[{"type":%q,"reason":%q}],"type":%q,"reason":%q},"status":%d}`+"\n",
		typ, reason, typ, reason, status)
}

// Every error case of formats.md §1, with its exact body.
func TestErrorBodiesAreExact(t *testing.T) {
	const json = "application/json"
	cases := []struct {
		name   string
		c      call
		status int
		body   string
	}{
		{"token and refresh_token", call{contentType: json, body: `{"token":"a","refresh_token":"b"}`}, 400,
			`{"error":{"root_cause":[{"type":"x_content_parse_exception","reason":"Failed to build [invalidate_token] after last required field arrived"}],"type":"x_content_parse_exception","reason":"Failed to build [invalidate_token] after last required field arrived","caused_by":{"type":"illegal_argument_exception","reason":"only one of [token, refresh_token] may be sent per request"}},"status":400}` + "\n"},
		{"empty object", call{contentType: json, body: `{}`}, 400,
			esErr(400, "action_request_validation_exception", "Validation Failed: 1: token string must be provided when not specifying a realm name or a username;")},
		{"empty token", call{contentType: json, body: `{"token":""}`}, 400,
			esErr(400, "action_request_validation_exception", "Validation Failed: 1: token string must be provided when not specifying a realm name or a username;")},
		{"blank realm", call{contentType: json, body: `{"realm_name":" "}`}, 400,
			esErr(400, "action_request_validation_exception", "Validation Failed: 1: token string must be provided when not specifying a realm name or a username;")},
		{"empty token with empty refresh token", call{contentType: json, body: `{"token":"","refresh_token":""}`}, 400,
			esErr(400, "action_request_validation_exception", "Validation Failed: 1: token string must be provided when not specifying a realm name or a username;")},
		{"token with realm", call{contentType: json, body: `{"token":"abc","realm_name":"saml1"}`}, 400,
			esErr(400, "action_request_validation_exception", "Validation Failed: 1: token string must not be provided when realm name or username is specified;2: token type must not be provided when realm name or username is specified;")},
		{"refresh token with username", call{contentType: json, body: `{"refresh_token":"abc","username":"u"}`}, 400,
			esErr(400, "action_request_validation_exception", "Validation Failed: 1: token string must not be provided when realm name or username is specified;2: token type must not be provided when realm name or username is specified;")},
		{"unknown field", call{contentType: json, body: `{"foo":"bar"}`}, 400,
			esErr(400, "x_content_parse_exception", "[1:2] [invalidate_token] unknown field [foo]")},
		{"unknown field after a known one, on line 3", call{contentType: json, body: "{\n  \"token\": \"x\",\n    \"foo\": 1\n}"}, 400,
			esErr(400, "x_content_parse_exception", "[3:5] [invalidate_token] unknown field [foo]")},
		{"no body", call{contentType: json}, 400,
			esErr(400, "parse_exception", "request body is required")},
		{"no body, no content type", call{}, 400,
			esErr(400, "parse_exception", "request body is required")},
		{"text/plain", call{contentType: "text/plain", body: `{"token":"a"}`}, 400,
			esErr(400, "validation_exception", "unknown content type")},
		{"no content type with a body", call{body: `{"token":"a"}`}, 400,
			esErr(400, "validation_exception", "unknown content type")},
		{"form content type", call{contentType: "application/x-www-form-urlencoded", body: `{"token":"a"}`}, 400,
			esErr(400, "validation_exception", "unknown content type")},
		{"vendor type, unknown version", call{contentType: "application/vnd.elasticsearch+json;compatible-with=99", body: `{"token":"a"}`}, 400,
			esErr(400, "validation_exception", "unknown content type")},
		{"number value", call{contentType: json, body: `{"token":12}`}, 400,
			esErr(400, "x_content_parse_exception", "[1:10] [invalidate_token] token doesn't support values of type: VALUE_NUMBER")},
		{"null value", call{contentType: json, body: `{"username":null}`}, 400,
			esErr(400, "x_content_parse_exception", "[1:13] [invalidate_token] username doesn't support values of type: VALUE_NULL")},
		{"array body", call{contentType: json, body: `["token"]`}, 400,
			esErr(400, "x_content_parse_exception", "[1:1] [invalidate_token] Expected START_OBJECT but was: START_ARRAY")},
		{"duplicate field", call{contentType: json, body: `{"token":"a","token":"b"}`}, 400,
			esErr(400, "x_content_parse_exception", "[1:14] Duplicate field 'token'")},
		{"truncated", call{contentType: json, body: `{"token":"a"`}, 400,
			esErr(400, "x_content_parse_exception", "[1:13] Unexpected end-of-input: expected close marker for Object")},
		{"unrecognized parameter", call{target: Route + "?foo=1", contentType: json, body: `{"token":"a"}`}, 400,
			esErr(400, "illegal_argument_exception", "request [/_security/oauth2/token] contains unrecognized parameter: [foo]")},
		{"token too long", call{contentType: json, body: `{"token":"` + strings.Repeat("a", publisher.MaxTokenLen+1) + `"}`}, 400,
			esErr(400, "action_request_validation_exception", fmt.Sprintf("Validation Failed: 1: token must not be longer than [%d] bytes;", publisher.MaxTokenLen))},
		{"body too large", call{contentType: json, body: `{"token":"` + strings.Repeat("a", publisher.DefaultMaxBody) + `"}`}, 413,
			esErr(413, "content_too_long_exception", fmt.Sprintf("request body is larger than the limit of [%d] bytes", publisher.DefaultMaxBody))},
		{"wrong method", call{method: http.MethodGet}, 405,
			`{"error":"Incorrect HTTP method for uri [/_security/oauth2/token] and method [GET], allowed: [DELETE]","status":405}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := &fakeCore{}
			w := do(t, newHandler(core), tc.c)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Body.String(); got != tc.body {
				t.Errorf("body =\n%s\nwant\n%s", got, tc.body)
			}
			if got := w.Header().Get("X-Elastic-Product"); got != "Elasticsearch" {
				t.Errorf("X-Elastic-Product = %q", got)
			}
			if len(core.got) != 0 {
				t.Errorf("a rejected request reached the core: %+v", core.got)
			}
		})
	}
}

func TestSuccessBodiesAndRequests(t *testing.T) {
	cases := []struct {
		name string
		body string
		want func(t *testing.T, r publisher.Request)
	}{
		{"access token", `{"token":"abc"}`, func(t *testing.T, r publisher.Request) {
			if r.Token == nil || r.Token.Sum != events.TokenKey("abc") || r.TokenType != events.AccessToken {
				t.Errorf("request = %+v", r)
			}
		}},
		{"refresh token", `{"refresh_token":"vLBPvmAB6KvwvJZr27cS"}`, func(t *testing.T, r publisher.Request) {
			if r.Token == nil || r.Token.Sum != events.TokenKey("vLBPvmAB6KvwvJZr27cS") || r.TokenType != events.RefreshToken {
				t.Errorf("request = %+v", r)
			}
		}},
		{"empty token counts as absent", `{"token":"","refresh_token":"r"}`, func(t *testing.T, r publisher.Request) {
			if r.Token == nil || r.Token.Sum != events.TokenKey("r") || r.TokenType != events.RefreshToken {
				t.Errorf("request = %+v", r)
			}
		}},
		{"realm", `{"realm_name":"saml1"}`, func(t *testing.T, r publisher.Request) {
			if r.Token != nil || r.Realm != "saml1" || r.User != "" {
				t.Errorf("request = %+v", r)
			}
		}},
		{"user", `{"username":"myuser"}`, func(t *testing.T, r publisher.Request) {
			if r.Token != nil || r.Realm != "" || r.User != "myuser" {
				t.Errorf("request = %+v", r)
			}
		}},
		{"user in realm, blank token ignored", `{"username":"myuser","realm_name":"saml1","token":""}`, func(t *testing.T, r publisher.Request) {
			if r.Token != nil || r.Realm != "saml1" || r.User != "myuser" {
				t.Errorf("request = %+v", r)
			}
		}},
		{"whitespace realm counts as absent", `{"username":"myuser","realm_name":"  "}`, func(t *testing.T, r publisher.Request) {
			if r.Realm != "" || r.User != "myuser" {
				t.Errorf("request = %+v", r)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := &fakeCore{res: publisher.Result{Invalidated: 1}}
			w := do(t, newHandler(core), call{contentType: "application/json", body: tc.body})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got, want := w.Body.String(), `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":0}`+"\n"; got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
			if len(core.got) != 1 {
				t.Fatalf("core got %d requests", len(core.got))
			}
			tc.want(t, core.got[0])
		})
	}
}

func TestVendorMediaTypeWithAndWithoutSpace(t *testing.T) {
	for _, ct := range []string{
		"application/vnd.elasticsearch+json;compatible-with=8",
		"application/vnd.elasticsearch+json; compatible-with=8",
		"application/vnd.elasticsearch+json; compatible-with=7",
		"application/json; charset=UTF-8",
	} {
		core := &fakeCore{}
		w := do(t, newHandler(core), call{contentType: ct, accept: ct, body: `{"token":"x"}`})
		if w.Code != 200 {
			t.Errorf("%q: status %d %s", ct, w.Code, w.Body)
			continue
		}
		wantCT := "application/json; charset=UTF-8"
		if strings.Contains(ct, "vnd") {
			wantCT = "application/vnd.elasticsearch+json;compatible-with=8"
		}
		if got := w.Header().Get("Content-Type"); got != wantCT {
			t.Errorf("%q: answered Content-Type %q, want %q", ct, got, wantCT)
		}
		if w.Header().Get("X-Elastic-Product") != "Elasticsearch" {
			t.Errorf("%q: no X-Elastic-Product on 200", ct)
		}
	}
}

func TestErrorDetailsAndErrorTrace(t *testing.T) {
	sum := events.TokenKey("t")
	core := &fakeCore{res: publisher.Result{Invalidated: 1, Details: []publisher.Detail{
		{Kind: publisher.DetailPropagation, Subscriber: "s2", Token: sum, Err: errors.New("deny-cache did not admit the entry after 10 attempts")},
		{Kind: publisher.DetailTimeout, Subscriber: "s3", Timeout: time.Second},
	}}}
	w := do(t, newHandler(core), call{contentType: "application/json", body: `{"token":"t"}`})
	want := `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":2,"error_details":[` +
		`{"type":"propagation_exception","reason":"subscriber [s2] could not apply the revocation of token [` + sum.Short() + `]","caused_by":{"type":"cache_admission_exception","reason":"deny-cache did not admit the entry after 10 attempts"}},` +
		`{"type":"timeout_exception","reason":"subscriber [s3] did not confirm within [1s]; the revocation is stored and will apply when that subscriber catches up"}]}` + "\n"
	if got := w.Body.String(); got != want {
		t.Errorf("body =\n%s\nwant\n%s", got, want)
	}
	w = do(t, newHandler(core), call{target: Route + "?error_trace=true", contentType: "application/json", body: `{"token":"t"}`})
	if !strings.Contains(w.Body.String(), `"stack_trace":"RevocastException[propagation_exception`) {
		t.Errorf("error_trace=true gave no stack_trace: %s", w.Body)
	}
	w = do(t, newHandler(core), call{contentType: "application/json", body: `{"token":"t"}`})
	if strings.Contains(w.Body.String(), "stack_trace") {
		t.Errorf("stack_trace without error_trace: %s", w.Body)
	}
}

func TestPretty(t *testing.T) {
	core := &fakeCore{res: publisher.Result{Invalidated: 1}}
	w := do(t, newHandler(core), call{target: Route + "?pretty", contentType: "application/json", body: `{"token":"t"}`})
	want := "{\n  \"invalidated_tokens\" : 1,\n  \"previously_invalidated_tokens\" : 0,\n  \"error_count\" : 0\n}\n"
	if w.Body.String() != want {
		t.Errorf("pretty body =\n%q\nwant\n%q", w.Body.String(), want)
	}
}

func TestUnavailableIs503InElasticsearchShape(t *testing.T) {
	core := &fakeCore{err: fmt.Errorf("%w: stream down", publisher.ErrUnavailable)}
	w := do(t, newHandler(core), call{contentType: "application/json", body: `{"token":"t"}`})
	if w.Code != 503 {
		t.Fatalf("status %d", w.Code)
	}
	if !strings.HasPrefix(w.Body.String(), `{"error":{"root_cause":[{"type":"unavailable_shards_exception",`) ||
		!strings.HasSuffix(w.Body.String(), `"status":503}`+"\n") {
		t.Fatalf("body %s", w.Body)
	}
	if w.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After on 503")
	}
}

// A request past a quota or a sidecar's capacity gets Elasticsearch's own
// answer to a request that would exceed a memory limit: 429
// circuit_breaking_exception, naming the limit.
func TestOverBudgetIsCircuitBreaking(t *testing.T) {
	core := &fakeCore{err: &publisher.BudgetError{Sidecar: "side-1", Limit: 1000, Live: 990, Asked: 3000}}
	w := do(t, newHandler(core), call{contentType: "application/json", body: `{"realm_name":"A"}`})
	const reason = "revoking 3000 more tokens would take sidecar [side-1] past its capacity of 1000 live revocations (990 live now); to revoke a large scope, revoke its realm, user or consent: an issued-before rule is one entry"
	want := `{"error":{"root_cause":[{"type":"circuit_breaking_exception","reason":"` + reason + `"}],"type":"circuit_breaking_exception","reason":"` + reason + `"},"status":429}` + "\n"
	if w.Code != 429 || w.Body.String() != want {
		t.Fatalf("%d %s\nwant %s", w.Code, w.Body, want)
	}
}
