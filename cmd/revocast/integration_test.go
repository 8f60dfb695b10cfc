package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwttest"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/subscriber"
)

// refusingCache is a deny-cache double that refuses every entry.
type refusingCache struct{}

func (refusingCache) Add(_ context.Context, entries []cache.Entry) []cache.Failure {
	out := make([]cache.Failure, len(entries))
	for i, e := range entries {
		out[i] = cache.Failure{Entry: e, Err: fmt.Errorf("%w after 10 attempts", cache.ErrNotAdmitted)}
	}
	return out
}
func (refusingCache) Contains(events.Sum) bool { return false }
func (refusingCache) Health() error            { return nil }
func (refusingCache) Capacity() int64          { return 1000 }
func (refusingCache) Clear()                   {}
func (refusingCache) Stats() cache.Stats       { return cache.Stats{} }

func defaultOpts() (commonOpts, pubOpts) {
	c := commonOpts{stream: events.DefaultStreamName, replicas: 1, lifetime: 24 * time.Hour}
	p := pubOpts{publishTimeout: 5 * time.Second, propagationTimeout: time.Second, presenceTimeout: 5 * time.Second,
		dedupWindow: 2 * time.Minute, maxBody: 64 << 10}
	return c, p
}

// system is a front and sidecars in this process on one embedded server.
type system struct {
	t     testing.TB
	ns    *server.Server
	front *front
	url   string
}

func newSystem(t testing.TB, tweak ...func(*pubOpts)) *system {
	t.Helper()
	return newSystemWith(t, &config{}, tweak...)
}

// newSystemWith builds the system with a parsed configuration (the test
// admin is added to it).
func newSystemWith(t testing.TB, cfg *config, tweak ...func(*pubOpts)) *system {
	t.Helper()
	ns := natstest.Start(t)
	c, p := defaultOpts()
	for _, f := range tweak {
		f(&p)
	}
	log := zerolog.Nop()
	if os.Getenv("REVOCAST_TEST_LOG") == "1" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	f, err := newFront(c, p, cfg, adminCreds(testID, testHash()), natstest.Connect(t, ns), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	sys := &system{t: t, front: f, url: srv.URL}
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", srv.URL+"/readyz", "", "").code == 200 })
	sys.ns = ns
	return sys
}

func (s *system) addSidecar(id string, tc subscriber.TokenCache) *subscriber.Subscriber {
	s.t.Helper()
	sub, err := subscriber.New(subscriber.Config{ID: id, HeartbeatInterval: 100 * time.Millisecond},
		natstest.Connect(s.t, s.ns), tc, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	s.t.Cleanup(func() { cancel(); <-done })
	waitFor(s.t, id+" ready and seen by the front", func() bool {
		return sub.Status().Ready && slices.Contains(s.front.tracker.Live(), id)
	})
	return sub
}

func TestRefusingSidecarBecomesErrorDetails(t *testing.T) {
	sys := newSystem(t)
	dc, _ := cache.New(cache.Config{Capacity: 1000})
	defer dc.Close()
	good := sys.addSidecar("good", dc)
	sys.addSidecar("broken", refusingCache{})

	r := esRevoke(t, sys.url, `{"token":"tok-refused"}`)
	short := events.TokenKey("tok-refused").Short()
	want := `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":1,"error_details":[` +
		`{"type":"propagation_exception","reason":"subscriber [broken] could not apply the revocation of token [` + short + `]",` +
		`"caused_by":{"type":"cache_admission_exception","reason":"deny-cache did not admit the entry after 10 attempts"}}]}` + "\n"
	if r.code != 200 || r.body != want {
		t.Fatalf("answer %d %s\nwant %s", r.code, r.body, want)
	}
	if d := good.Check("tok-refused"); d.Verdict != subscriber.Revoked {
		t.Fatalf("the healthy sidecar: %+v", d)
	}
}

func TestPropagationTimeoutZeroDoesNotWait(t *testing.T) {
	ns := natstest.Start(t)
	c, p := defaultOpts()
	p.propagationTimeout = 0
	f, err := newFront(c, p, &config{}, adminCreds(testID, testHash()), natstest.Connect(t, ns), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", srv.URL+"/readyz", "", "").code == 200 })
	sys := &system{t: t, front: f, url: srv.URL, ns: ns}
	sys.addSidecar("broken", refusingCache{})
	r := esRevoke(t, srv.URL, `{"token":"x"}`)
	if r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("with --propagation-timeout 0: %s", r.body)
	}
}

// Seen: a revoked ES256 JWT re-encoded or replaced by its high-s twin was
// allowed. Revoked through the Elasticsearch route, both spellings (which
// golang-jwt verifies) are denied by the Go API and over HTTP.
func TestRevokedJWTDeniedInEverySpelling(t *testing.T) {
	sys := newSystem(t)
	dc, _ := cache.New(cache.Config{Capacity: 1000})
	defer dc.Close()
	side := sys.addSidecar("side", dc)
	key := jwttest.Key(t)
	tok := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example", "sub": "alice",
		"exp": time.Now().Add(time.Hour).Unix()})
	if r := esRevoke(t, sys.url, `{"token":"`+tok+`"}`); r.code != 200 || r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	h := side.Handler(nil)
	for name, spelling := range map[string]string{"re-encoded": jwttest.Reencoded(t, tok), "high-s": jwttest.HighS(t, tok)} {
		if err := jwttest.Verify(spelling, key); err != nil {
			t.Fatalf("%s: golang-jwt refuses it: %v", name, err)
		}
		if d := side.Check(spelling); d.Verdict != subscriber.Revoked {
			t.Errorf("%s: Go API %+v", name, d)
		}
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v1/check", nil)
		req.Header.Set("Authorization", "Bearer "+spelling)
		h.ServeHTTP(w, req)
		if w.Code != 401 {
			t.Errorf("%s: GET /v1/check %d", name, w.Code)
		}
	}
	// A second revocation in another spelling is the same token.
	if r := esRevoke(t, sys.url, `{"token":"`+jwttest.HighS(t, tok)+`"}`); r.body != fmt.Sprintf(counts, 0, 1, 0) {
		t.Fatalf("the twin revoked again: %s", r.body)
	}
}
