package subscriber

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
)

// fuzzSubscriber is a ready subscriber with a real cache and a rule, built
// without NATS: the HTTP parsing is what is fuzzed.
func fuzzSubscriber(t testing.TB) *Subscriber {
	dc, err := cache.New(cache.Config{Capacity: 1000})
	if err != nil {
		t.Fatal(err)
	}
	s := &Subscriber{cfg: Config{ID: "fuzz"}, cache: dc, rules: cache.NewRules(), failed: map[events.Sum]time.Time{}}
	s.cfg.setDefaults()
	s.fresh = newFreshness(&s.confirmedAt, s.cfg.MaxStaleness)
	s.m = newMetrics(prometheus.NewRegistry(), s)
	s.rules.Add(events.Rule{Scope: events.ScopeRealm, Realm: "x"}, time.Now(), time.Now().Add(time.Hour))
	s.confirmAt(time.Now().Add(time.Hour).UnixNano())
	s.ready.Store(true)
	return s
}

// FuzzCheckRequests drives POST /v1/check bodies and GET Authorization
// headers: never a 5xx other than 503, never a panic, always JSON on POST.
func FuzzCheckRequests(f *testing.F) {
	f.Add(`{"token":"abc"}`, "Bearer abc")
	f.Add(`{"token_sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","claims":{"iss":"x","sub":"y","iat":1}}`, "bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add(`{"claims":{"iat":-1e300}}`, "Basic x")
	s := fuzzSubscriber(f)
	h := s.Handler(nil)
	f.Fuzz(func(t *testing.T, body, auth string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/check", strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != 503 {
			t.Fatalf("POST %q: %d", body, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("POST %q: invalid JSON %q", body, w.Body)
		}
		r = httptest.NewRequest(http.MethodGet, "/v1/check", nil)
		r.Header.Set("Authorization", auth)
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 204 && w.Code != 401 && w.Code != 503 {
			t.Fatalf("GET with %q: %d", auth, w.Code)
		}
	})
}
