package elasticsearch

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

const challengeJSON = `"header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}`

func sec401(reason string) string {
	return `{"error":{"root_cause":[{"type":"security_exception","reason":"` + reason + `",` + challengeJSON + `}],` +
		`"type":"security_exception","reason":"` + reason + `",` + challengeJSON + `},"status":401}` + "\n"
}

func TestAuthenticationFailuresAreExact(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	missing := sec401("missing authentication credentials for REST request [/_security/oauth2/token]")
	cases := []struct {
		name, auth, body string
	}{
		{"no credentials", "-", missing},
		{"unknown scheme", "Bearer abc", missing},
		{"malformed basic", "Basic !!!", missing},
		{"wrong password", "Basic " + b64("elastic:wrong"), sec401("unable to authenticate user [elastic] for REST request [/_security/oauth2/token]")},
		{"unknown user", "Basic " + b64("ghost:changeme"), sec401("unable to authenticate user [ghost] for REST request [/_security/oauth2/token]")},
		{"a user's password as an api key", "ApiKey " + b64("elastic:changeme"), sec401("unable to authenticate user [elastic] for REST request [/_security/oauth2/token]")},
		{"wrong api key", "ApiKey " + b64("VuaCfGcBCdbkQm-e5aOx:nope"), sec401("unable to authenticate user [VuaCfGcBCdbkQm-e5aOx] for REST request [/_security/oauth2/token]")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := &fakeCore{}
			// a body that would fail parsing: authentication comes first
			w := do(t, newHandler(core), call{contentType: "application/json", body: `{"foo":1}`, auth: tc.auth})
			if w.Code != 401 || w.Body.String() != tc.body {
				t.Fatalf("%d %s\nwant %s", w.Code, w.Body, tc.body)
			}
			if got := w.Header().Values("WWW-Authenticate"); strings.Join(got, "|") != strings.Join(challenges, "|") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if w.Header().Get("X-Elastic-Product") != "" {
				t.Error("X-Elastic-Product on a 401")
			}
			if len(core.got) != 0 {
				t.Error("an unauthenticated request reached the core")
			}
		})
	}
	w := do(t, newHandler(&fakeCore{}), call{contentType: "application/json", body: `{"token":"x"}`,
		auth: "ApiKey " + b64("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")})
	if w.Code != 200 {
		t.Fatalf("valid api key: %d %s", w.Code, w.Body)
	}
}

func TestForbiddenIsExactAndAfterValidation(t *testing.T) {
	p := auth.NewPrincipal(auth.KindUser, "reader", []string{"oam"}, []string{"*"})
	core := &fakeCore{err: &publisher.ForbiddenError{Principal: p, Op: auth.OpElasticsearch}}
	// validation errors win over authorization
	if w := do(t, newHandler(core), call{contentType: "application/json", body: `{}`}); w.Code != 400 {
		t.Fatalf("invalid body: %d, want 400 before 403", w.Code)
	}
	w := do(t, newHandler(core), call{contentType: "application/json", body: `{"token":"x"}`})
	reason := "action [cluster:admin/xpack/security/token/invalidate] is unauthorized for user [reader], this action is granted by the cluster privileges [manage_token,manage_security,all]"
	if w.Code != 403 || w.Body.String() != esErr(403, "security_exception", reason) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Elastic-Product") != "" {
		t.Error("X-Elastic-Product on a 403")
	}
	core.err = &publisher.ForbiddenError{Principal: p, Realm: "saml2"}
	w = do(t, newHandler(core), call{contentType: "application/json", body: `{"realm_name":"saml2"}`})
	if w.Code != 403 || !strings.Contains(w.Body.String(), "is unauthorized for user [reader] in realm [saml2]") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestFailedAttemptsAreRateLimited(t *testing.T) {
	store, err := auth.NewStore(auth.Config{FailuresPerMinute: 1, FailureBurst: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := New(&fakeCore{}, Options{Auth: store})
	bad := "Basic " + base64.StdEncoding.EncodeToString([]byte("brute:force"))
	var last *http.Response
	codes := []int{}
	for i := 0; i < 5; i++ {
		r := httptest.NewRequest(http.MethodDelete, Route, strings.NewReader(`{"token":"x"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", bad)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes = append(codes, w.Code)
		last = w.Result()
	}
	if codes[0] != 401 || codes[len(codes)-1] != 429 {
		t.Fatalf("codes = %v, want 401s then 429", codes)
	}
	if last.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}
