package subscriber

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
)

func get(h http.Handler, path, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func post(h http.Handler, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHTTPCheck(t *testing.T) {
	e := newEnv(t)
	e.append(t, revokeToken("revoked-token"))
	reg := prometheus.NewRegistry()
	s := startSubReg(t, e, Config{}, nil, reg)
	h := s.Handler(reg)
	waitReady(t, s)

	w := get(h, "/v1/check", "Bearer revoked-token")
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
		t.Errorf("revoked: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := get(h, "/v1/check", "bearer good-token"); w.Code != 204 || w.Body.Len() != 0 {
		t.Errorf("not revoked: %d %q", w.Code, w.Body)
	}
	// Envoy ext_authz: path_prefix + the original path, the original method.
	r := httptest.NewRequest(http.MethodPost, "/v1/check/api/orders?x=1", nil)
	r.Header.Set("Authorization", "Bearer revoked-token")
	ew := httptest.NewRecorder()
	h.ServeHTTP(ew, r)
	if ew.Code != 401 {
		t.Errorf("ext_authz-style check: %d", ew.Code)
	}
	if w := get(h, "/v1/check", ""); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_request") {
		t.Errorf("no token: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := get(h, "/v1/check", "Basic Zm9vOmJhcg=="); w.Code != 401 {
		t.Errorf("basic auth: %d", w.Code)
	}
	sum := events.TokenKey("revoked-token").String()
	for body, want := range map[string]string{
		`{"token":"revoked-token"}`:                       `{"revoked":true,"reason":"token"}`,
		`{"token":"fine"}`:                                `{"revoked":false,"reason":null}`,
		`{"token_sha256":"` + sum + `"}`:                  `{"revoked":true,"reason":"token"}`,
		`{"token_sha256":"` + strings.ToUpper(sum) + `"}`: `{"revoked":true,"reason":"token"}`,
	} {
		w := post(h, "/v1/check", body)
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != want {
			t.Errorf("POST %s: %d %s, want %s", body, w.Code, w.Body, want)
		}
	}
	for _, body := range []string{``, `{}`, `{"token":"a","token_sha256":"` + sum + `"}`, `{"token_sha256":"abc"}`,
		`{"token":""}`, `{"tokn":"a"}`, `[1]`, `{"token":"` + strings.Repeat("x", 17000) + `"}`} {
		if w := post(h, "/v1/check", body); w.Code != 400 || !strings.Contains(w.Body.String(), "invalid_request") {
			t.Errorf("POST %.40q: %d %s, want 400 invalid_request", body, w.Code, w.Body)
		}
	}
	if w := get(h, "/readyz", ""); w.Code != 200 {
		t.Errorf("/readyz %d", w.Code)
	}
	if w := get(h, "/healthz", ""); w.Code != 200 {
		t.Errorf("/healthz %d", w.Code)
	}
	w = get(h, "/metrics", "")
	for _, m := range []string{"revocast_subscriber_checks_total", "revocast_subscriber_cache_entries", "revocast_subscriber_ready 1",
		"revocast_subscriber_admission_retries_total", "revocast_subscriber_replay_applied_sequence", "revocast_subscriber_revoke_to_applied_seconds"} {
		if !strings.Contains(w.Body.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestHTTPNotReadyIs503(t *testing.T) {
	e := newEnv(t)
	nc := e.nc
	dcSub, err := New(Config{ID: "x"}, nc, &refusingCache{}, zerologNop(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h := dcSub.Handler(nil) // never Run: never ready
	if w := get(h, "/v1/check", "Bearer t"); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("check before ready: %d", w.Code)
	}
	if w := get(h, "/readyz", ""); w.Code != 503 || !strings.Contains(w.Body.String(), "replaying") {
		t.Errorf("/readyz before ready: %d %s", w.Code, w.Body)
	}
	if w := post(h, "/v1/check", `{"token":"t"}`); w.Code != 503 {
		t.Errorf("POST check before ready: %d", w.Code)
	}
}

type fixedChecker Decision

func (f fixedChecker) Check(string) Decision { return Decision(f) }

func TestMiddleware(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	cases := []struct {
		d    Decision
		auth string
		want int
	}{
		{Decision{Verdict: Allowed}, "Bearer a", http.StatusTeapot},
		{Decision{Verdict: Revoked, Reason: "token"}, "Bearer a", http.StatusUnauthorized},
		{Decision{Verdict: Unavailable}, "Bearer a", http.StatusServiceUnavailable},
		{Decision{Verdict: Revoked}, "", http.StatusTeapot}, // no token: next authenticates
	}
	for _, c := range cases {
		w := get(Middleware(fixedChecker(c.d), next), "/api", c.auth)
		if w.Code != c.want {
			t.Errorf("%+v with %q: %d, want %d", c.d, c.auth, w.Code, c.want)
		}
		if c.want == 401 && w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
}

func zerologNop() zerolog.Logger { return zerolog.Nop() }

// exhaustedCache reports exhausted capacity.
type exhaustedCache struct{ refusingCache }

func (*exhaustedCache) Health() error { return cache.ErrCapacityExhausted }

// Capacity exhaustion makes the sidecar unready under either policy.
func TestCapacityExhaustedIsUnreadyUnderEitherPolicy(t *testing.T) {
	for _, policy := range []StalePolicy{PolicyDeny, PolicyAllow} {
		e := newEnv(t)
		s := startSub(t, e, Config{StalePolicy: policy}, &exhaustedCache{})
		waitReady(t, s)
		w := get(s.Handler(nil), "/readyz", "")
		if w.Code != 503 || !strings.Contains(w.Body.String(), "capacity exhausted") {
			t.Errorf("%s: /readyz %d %s", policy, w.Code, w.Body)
		}
	}
}

// Two Authorization headers: the one checked might not be the one the
// resource server reads, so the check refuses rather than guess.
func TestHTTPCheckRefusesTwoAuthorizationHeaders(t *testing.T) {
	e := newEnv(t)
	e.append(t, revokeToken("revoked"))
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	r := httptest.NewRequest("GET", "/v1/check", nil)
	r.Header.Add("Authorization", "Bearer innocent")
	r.Header.Add("Authorization", "Bearer revoked")
	w := httptest.NewRecorder()
	s.Handler(nil).ServeHTTP(w, r)
	if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "more than one") {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}

// Found in review: behind a proxy that merges repeated headers (Envoy's
// HTTP ext_authz joins them with a comma), "Bearer innocent, Bearer
// revoked" arrived as one header; its whole text hashed to an unknown key
// and the check answered 204. A comma is in no token: refused as two.
func TestHTTPCheckRefusesMergedAuthorizationHeaders(t *testing.T) {
	e := newEnv(t)
	e.append(t, revokeToken("revoked"))
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	r := httptest.NewRequest("GET", "/v1/check", nil)
	r.Header.Set("Authorization", "Bearer innocent, Bearer revoked")
	w := httptest.NewRecorder()
	s.Handler(nil).ServeHTTP(w, r)
	if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "more than one") {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}
