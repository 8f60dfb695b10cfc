package subscriber

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// env is one NATS server with the stream, and a way to append events.
type env struct {
	ns *server.Server
	nc *nats.Conn
	js jetstream.JetStream
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ns := natstest.Start(t)
	nc := natstest.Connect(t, ns)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.EnsureStream(context.Background(), js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return &env{ns: ns, nc: nc, js: js}
}

func (e *env) append(t testing.TB, ev events.Event) {
	t.Helper()
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), ev.Subject(), b,
		jetstream.WithMsgTTL(events.MsgTTL(ev.ExpiresAt, time.Now()))); err != nil {
		t.Fatal(err)
	}
}

// appendMany stores n single-token revocations replay-0 ... replay-(n-1),
// pipelined 1,000 at a time (more stall the client on a loaded machine).
func (e *env) appendMany(t testing.TB, n int, exp time.Time) {
	t.Helper()
	futs := make([]jetstream.PubAckFuture, 0, 1000)
	for i := 0; i < n; i++ {
		ev := events.NewTokenRevocation(events.TokenKey(fmt.Sprint("replay-", i)), events.AccessToken, exp, time.Now())
		b, _ := ev.Encode()
		f, err := e.js.PublishAsync(ev.Subject(), b)
		if err != nil {
			t.Fatal(err)
		}
		if futs = append(futs, f); len(futs) == cap(futs) || i == n-1 {
			for _, f := range futs {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					t.Fatal(err)
				}
			}
			futs = futs[:0]
		}
	}
}

func revokeToken(tok string) events.Event {
	return events.NewTokenRevocation(events.TokenKey(tok), events.AccessToken, time.Now().Add(time.Hour), time.Now())
}

// startSub runs a subscriber until the test ends; tc nil means a real DenyCache.
func startSub(t testing.TB, e *env, cfg Config, tc TokenCache) *Subscriber {
	t.Helper()
	return startSubReg(t, e, cfg, tc, prometheus.NewRegistry())
}

func startSubReg(t testing.TB, e *env, cfg Config, tc TokenCache, reg *prometheus.Registry) *Subscriber {
	t.Helper()
	if tc == nil {
		dc, err := cache.New(cache.Config{Capacity: 10000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(dc.Close)
		tc = dc
	}
	if cfg.ID == "" {
		cfg.ID = "s1"
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 50 * time.Millisecond
	}
	nc := natstest.Connect(t, e.ns)
	s, err := New(cfg, nc, tc, zerolog.Nop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

func waitReady(t testing.TB, s *Subscriber) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("subscriber not ready: %v", err)
	}
}

func TestReplayThenReadyThenDenies(t *testing.T) {
	e := newEnv(t)
	const n = 5000
	for i := 0; i < n; i++ {
		e.append(t, revokeToken(fmt.Sprint("tok-", i)))
	}
	s := startSub(t, e, Config{BatchSize: 100}, nil)
	// Until replay is complete every check fails closed: never Allowed.
	for !s.ready.Load() {
		if d := s.Check("tok-1"); d.Verdict == Allowed {
			t.Fatal("a check was allowed before the replay completed")
		}
	}
	if s.applied.Load() < s.target.Load() {
		t.Fatalf("ready at seq %d before the target %d", s.applied.Load(), s.target.Load())
	}
	for i := 0; i < n; i++ {
		if d := s.Check(fmt.Sprint("tok-", i)); d.Verdict != Revoked || d.Reason != "token" {
			t.Fatalf("tok-%d: %+v after replay", i, d)
		}
	}
	if d := s.Check("never-revoked"); d.Verdict != Allowed {
		t.Fatalf("unrevoked token: %+v", d)
	}
}

func TestEmptyStreamIsReadyAtOnce(t *testing.T) {
	s := startSub(t, newEnv(t), Config{}, nil)
	waitReady(t, s)
}

// A live revocation applied successfully is confirmed by a watermark on the
// sidecar's own subject, carrying the stream's epoch; no failure report is
// sent when nothing failed.
func TestFollowsLiveAndAnnouncesItsWatermark(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{ID: "side-a"}, nil)
	waitReady(t, s)
	marks := make(chan events.Watermark, 100)
	sub, err := e.nc.Subscribe(events.WatermarkSubject("side-a"), func(m *nats.Msg) {
		w, err := events.DecodeWatermark(m.Data)
		if err != nil {
			t.Error(err)
		}
		marks <- w
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	reports := make(chan string, 10)
	rsub, err := e.nc.Subscribe(events.StatusSubjects, func(m *nats.Msg) {
		if _, kind, _, _ := events.ParseStatusSubject(m.Subject); kind == events.StatusFailures {
			reports <- string(m.Data)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rsub.Unsubscribe()
	ev := revokeToken("live")
	ev.RequestID, ev.Origin = "req1", "front1"
	e.append(t, ev)
	natstest.Eventually(t, 5*time.Second, "live revocation applied", func() bool { return s.Check("live").Verdict == Revoked })
	st, err := e.js.Stream(context.Background(), events.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	created := st.CachedInfo().Created.UnixNano()
	select {
	case w := <-marks:
		if w.Seq != 1 || w.Instance != s.instance || w.Epoch != created {
			t.Fatalf("watermark = %+v, want sequence 1 of instance %s, epoch %d", w, s.instance, created)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watermark")
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reports:
		t.Fatalf("a failure report for a revocation that was applied: %s", r)
	default:
	}
}

func TestBatchEventsAreApplied(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	var items []events.TokenItem
	for i := 0; i < events.MaxBatch; i++ {
		items = append(items, events.TokenItem{Token: events.TokenKey(fmt.Sprint("b-", i)), ExpiresAt: time.Now().Add(time.Hour)})
	}
	e.append(t, events.NewTokenBatch("req9", 0, items, time.Now()))
	natstest.Eventually(t, 5*time.Second, "the batch applied", func() bool {
		for i := 0; i < events.MaxBatch; i++ {
			if s.Check(fmt.Sprint("b-", i)).Verdict != Revoked {
				return false
			}
		}
		return true
	})
}

func jwtToken(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2lnbmF0dXJl"
}

func TestIssuedBeforeRules(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	e.append(t, events.NewRule(events.Rule{Scope: events.ScopeRealmUser, Realm: "saml1", User: "alice"}, at, time.Hour))
	s := startSub(t, e, Config{IssuerRealms: map[string]string{"https://idp.example.com": "saml1"}}, nil)
	waitReady(t, s)
	tok := func(iat int64, sub string) string {
		return jwtToken(fmt.Sprintf(`{"iss":"https://idp.example.com","sub":%q,"iat":%d}`, sub, iat))
	}
	cases := []struct {
		name string
		tok  string
		want Verdict
	}{
		{"issued before", tok(at.Unix()-10, "alice"), Revoked},
		{"issued the same second", tok(at.Unix(), "alice"), Revoked},
		{"issued a second later", tok(at.Unix()+1, "alice"), Allowed},
		{"another user", tok(at.Unix()-10, "bob"), Allowed},
		{"unmapped issuer is its own realm", jwtToken(fmt.Sprintf(`{"iss":"saml1","sub":"alice","iat":%d}`, at.Unix()-10)), Revoked},
		{"other issuer", jwtToken(fmt.Sprintf(`{"iss":"https://other","sub":"alice","iat":%d}`, at.Unix()-10)), Allowed},
	}
	for _, c := range cases {
		if d := s.Check(c.tok); d.Verdict != c.want {
			t.Errorf("%s: %v (%s), want %v", c.name, d.Verdict, d.Reason, c.want)
		}
	}
	d := s.CheckSum(events.TokenKey("opaque"), &Claims{Realm: "saml1", Subject: "alice", IssuedAt: at.Add(-time.Second)})
	if d.Verdict != Revoked || d.Reason != "rule:realm_user" {
		t.Errorf("explicit claims: %+v", d)
	}
}

// refusingCache is a test double that refuses every entry.
type refusingCache struct {
	mu    sync.Mutex
	calls int
}

func (r *refusingCache) Add(_ context.Context, entries []cache.Entry) []cache.Failure {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	out := make([]cache.Failure, len(entries))
	for i, e := range entries {
		out[i] = cache.Failure{Entry: e, Err: fmt.Errorf("%w (test double)", cache.ErrNotAdmitted)}
	}
	return out
}
func (r *refusingCache) Contains(events.Sum) bool { return false }
func (r *refusingCache) Health() error            { return nil }
func (r *refusingCache) Stats() cache.Stats       { return cache.Stats{} }
func (r *refusingCache) Capacity() int64          { return 1000 }
func (r *refusingCache) Clear()                   {}

func TestRefusedEntriesAreReportedDeniedAndUnhealthy(t *testing.T) {
	for _, policy := range []StalePolicy{PolicyDeny, PolicyAllow} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnv(t)
			rc := &refusingCache{}
			s := startSub(t, e, Config{ID: "broken", StalePolicy: policy}, rc)
			waitReady(t, s)
			outcomes := make(chan events.FailureReport, 10)
			sub, _ := e.nc.Subscribe(events.FailuresSubject("broken", "front1"), func(m *nats.Msg) {
				var o events.FailureReport
				_ = json.Unmarshal(m.Data, &o)
				outcomes <- o
			})
			defer sub.Unsubscribe()
			ev := revokeToken("refused")
			ev.RequestID, ev.Origin = "req1", "front1"
			e.append(t, ev)
			var o events.FailureReport
			select {
			case o = <-outcomes:
			case <-time.After(5 * time.Second):
				t.Fatal("no outcome")
			}
			if o.RequestID != "req1" || len(o.Failures) != 1 || o.Failures[0].Token != events.TokenKey("refused") {
				t.Fatalf("outcome = %+v, want one failure naming the token", o)
			}
			if s.healthy() || len(s.Status().Problems) == 0 {
				t.Fatal("a refused revocation left the sidecar healthy")
			}
			d := s.Check("refused")
			switch policy {
			case PolicyDeny:
				if d.Verdict != Unavailable {
					t.Fatalf("deny policy: %+v, want unavailable", d)
				}
			case PolicyAllow:
				if d.Verdict != Revoked || !d.Stale {
					t.Fatalf("allow policy: %+v, want revoked from the side list, flagged stale", d)
				}
				if d := s.Check("other"); d.Verdict != Allowed || !d.Stale {
					t.Fatalf("allow policy, other token: %+v", d)
				}
			}
		})
	}
}

func TestStalenessFollowsPolicyAndRecovers(t *testing.T) {
	for _, policy := range []StalePolicy{PolicyDeny, PolicyAllow} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			port := natstest.FreePort(t)
			ns := natstest.StartWith(t, natstest.Options{Port: port, StoreDir: dir})
			nc := natstest.Connect(t, ns)
			js, _ := jetstream.New(nc)
			if _, err := events.EnsureStream(context.Background(), js, events.StreamOptions{}); err != nil {
				t.Fatal(err)
			}
			e := &env{ns: ns, nc: nc, js: js}
			e.append(t, revokeToken("old"))
			subNC, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer subNC.Close()
			dc, _ := cache.New(cache.Config{Capacity: 100})
			defer dc.Close()
			s, err := New(Config{ID: "s", MaxStaleness: time.Second, HeartbeatInterval: 100 * time.Millisecond, StalePolicy: policy},
				subNC, dc, zerolog.Nop(), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() { cancel(); <-done }()
			waitReady(t, s)

			natstest.Stop(ns)
			natstest.Eventually(t, 10*time.Second, "stale after the server went away", s.stale)
			d := s.Check("fresh")
			if policy == PolicyDeny && d.Verdict != Unavailable {
				t.Fatalf("stale under deny: %+v", d)
			}
			if policy == PolicyAllow && (d.Verdict != Allowed || !d.Stale) {
				t.Fatalf("stale under allow: %+v", d)
			}
			if d := s.Check("old"); policy == PolicyAllow && d.Verdict != Revoked {
				t.Fatalf("stale under allow still denies what it knows: %+v", d)
			}

			natstest.StartWith(t, natstest.Options{Port: port, StoreDir: dir})
			natstest.Eventually(t, 15*time.Second, "fresh again after reconnect", func() bool { return !s.stale() })
			if d := s.Check("fresh"); d.Verdict != Allowed || d.Stale {
				t.Fatalf("after recovery: %+v", d)
			}
		})
	}
}

func TestUndecodableEventMakesUnhealthy(t *testing.T) {
	e := newEnv(t)
	if _, err := e.js.Publish(context.Background(), "revocast.rev.token.x", []byte(`{"v":99}`)); err != nil {
		t.Fatal(err)
	}
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	if s.healthy() {
		t.Fatal("an unreadable event left the sidecar healthy")
	}
	if d := s.Check("any"); d.Verdict != Unavailable {
		t.Fatalf("deny policy with an unreadable event: %+v", d)
	}
}

func TestConfigValidateReportsEverything(t *testing.T) {
	err := Config{StalePolicy: "maybe", MaxStaleness: time.Millisecond}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"id", "stale policy", "max staleness"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
