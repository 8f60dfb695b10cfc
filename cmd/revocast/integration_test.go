package main

import (
	"encoding/json"
	"strings"

	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

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
		dedupWindow: 2 * time.Minute, maxBody: 64 << 10, manageStreams: true}
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
	f, err := newFront(c, p, cfg, adminCreds(testID, testHash()), natstest.Connect(t, ns), nil, nil, log)
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
	f, err := newFront(c, p, &config{}, adminCreds(testID, testHash()), natstest.Connect(t, ns), nil, nil, zerolog.Nop())
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

// Seen: two sidecars sharing an --id were merged unnoticed. Two live
// instances of one id are reported in /readyz and a metric, and requests
// name the conflict instead of trusting either.
func TestDuplicateSidecarIDIsReported(t *testing.T) {
	sys := newSystem(t)
	for i := 0; i < 2; i++ {
		dc, _ := cache.New(cache.Config{Capacity: 1000})
		t.Cleanup(dc.Close)
		sys.addSidecar("twin", dc)
	}
	waitFor(t, "the conflict seen", func() bool { return len(sys.front.tracker.Conflicts()) == 1 })
	r := httpDo(t, "GET", sys.url+"/readyz", "", "")
	if r.code != 200 || !strings.Contains(r.body, `sidecar id \"twin\" is announced by two live instances`) {
		t.Fatalf("/readyz: %d %s", r.code, r.body)
	}
	r = esRevoke(t, sys.url, `{"token":"tok-twin"}`)
	if r.code != 200 || !strings.Contains(r.body, `"error_count":1`) || !strings.Contains(r.body, "subscriber [twin] is announced by two live instances") {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if m := httpDo(t, "GET", sys.url+"/metrics", "", ""); !strings.Contains(m.body, "revocast_publisher_sidecar_id_conflicts 1") {
		t.Fatal("no conflict metric")
	}
}

// Seen: 500 fake sidecars made every revocation wait a second and carry 500
// timeout_exceptions. The front tracks at most --max-sidecars.
func TestTrackedSidecarsAreBounded(t *testing.T) {
	sys := newSystem(t, func(p *pubOpts) { p.maxSidecars = 3 })
	nc := natstest.Connect(t, sys.ns)
	hb, _ := json.Marshal(events.Heartbeat{Instance: "i", Ready: true, Healthy: true, SentAt: time.Now()})
	for i := 0; i < 50; i++ {
		if err := nc.Publish(events.HeartbeatSubject(fmt.Sprint("fake-", i)), hb); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the heartbeats counted", func() bool {
		return strings.Contains(httpDo(t, "GET", sys.url+"/metrics", "", "").body, "revocast_publisher_sidecars_refused_total 47")
	})
	if n := len(sys.front.tracker.Live()); n != 3 {
		t.Fatalf("%d sidecars tracked, want 3", n)
	}
}

// Seen: a forged failure report put attacker text into error_details. A
// sidecar's failure text is data: at most 256 bytes, no control
// characters, never markup.
func TestFailureTextIsBoundedData(t *testing.T) {
	sys := newSystem(t)
	dc, _ := cache.New(cache.Config{Capacity: 1000})
	defer dc.Close()
	sys.addSidecar("honest", dc)
	nc := natstest.Connect(t, sys.ns)
	// A sidecar that reports a hostile failure for every request it sees.
	sub, err := nc.Subscribe(events.StreamSubjects, func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if err != nil || ev.Origin == "" {
			return
		}
		b, _ := json.Marshal(events.FailureReport{Instance: "x", RequestID: ev.RequestID, Failures: []events.Failure{
			{Token: ev.Token, Error: "\x1b[31m<script>alert(1)</script>\n" + strings.Repeat("A", 10_000)}}})
		_ = nc.Publish(events.FailuresSubject("liar", ev.Origin), b)
		hb, _ := json.Marshal(events.Heartbeat{Instance: "x", Ready: true, Healthy: true})
		_ = nc.Publish(events.HeartbeatSubject("liar"), hb)
		_ = nc.Publish(events.WatermarkSubject("liar"), events.Watermark{Instance: "x", Seq: 1 << 62}.Encode())
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	hb, _ := json.Marshal(events.Heartbeat{Instance: "x", Ready: true, Healthy: true})
	_ = nc.Publish(events.HeartbeatSubject("liar"), hb)
	waitFor(t, "the liar seen", func() bool { return len(sys.front.tracker.Live()) == 2 })
	r := esRevoke(t, sys.url, `{"token":"tok-liar"}`)
	var body struct {
		ErrorDetails []struct {
			Type     string
			CausedBy struct{ Reason string } `json:"caused_by"`
		} `json:"error_details"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("%d %s", r.code, r.body)
	}
	reason := ""
	for _, d := range body.ErrorDetails {
		if d.Type == "propagation_exception" {
			reason = d.CausedBy.Reason
		}
	}
	if reason == "" {
		t.Fatalf("no propagation_exception: %s", r.body)
	}
	if len(reason) > events.MaxFailureText || strings.ContainsAny(reason, "\x1b\n") {
		t.Fatalf("the failure text is %d bytes: %q", len(reason), reason[:min(len(reason), 80)])
	}
}
