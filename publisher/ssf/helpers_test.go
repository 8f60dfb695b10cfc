package ssf

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/internal/ssftest"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

const (
	pushSecret = "push-secret-for-tests"
	logoutAud  = "revocast-client"
	issuer     = "https://idp.test/realms/acme"
	audience   = "https://revocast.test/ssf"
)

var pushHash = sync.OnceValue(func() string {
	h, err := auth.HashSecret(pushSecret)
	if err != nil {
		panic(err)
	}
	return h
})

// env is a receiver on a real embedded JetStream, with a real core and a
// transmitter inside the test.
type env struct {
	t    *testing.T
	js   jetstream.JetStream
	rcv  *Receiver
	tr   *ssftest.Transmitter
	srv  *httptest.Server
	opts Options
	reg  *prometheus.Registry
}

func testLog() zerolog.Logger {
	if os.Getenv("REVOCAST_TEST_LOG") == "1" {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	return zerolog.Nop()
}

// newEnv starts NATS with the streams, a core, a transmitter and a
// receiver; edit changes the receiver's options before it is built.
func newEnv(t *testing.T, edit ...func(*Options)) *env {
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
	store, err := publisher.NewJetStreamStore(nc, 5*time.Second, publisher.StoreMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	realms := map[string]string{issuer: "acme"}
	core := publisher.NewCore(publisher.Config{IssuerRealms: realms,
		RuleMarks: publisher.NewLedgerReader(js, events.StreamOptions{}.LedgerName())}, store, nil, testLog(), nil)
	tr := ssftest.New(t, issuer, audience)
	e := &env{t: t, js: js, tr: tr, reg: prometheus.NewRegistry()}
	e.opts = Options{
		Transmitters: []TransmitterConfig{{Name: "idp", Issuer: issuer, JWKSURI: tr.JWKSURL(), JWKSMinRefresh: time.Second,
			Audience: audience, Realms: []string{"acme"}, Push: &PushConfig{BearerTokenHash: pushHash()},
			BackchannelLogout: &LogoutConfig{Audiences: []string{"another-app", logoutAud}}}},
		Core: core, Store: store, JetStream: js, Ledger: events.StreamOptions{}.LedgerName(), IssuerRealms: realms,
		Origin: "front-1", LeaseTTL: 3 * time.Second, Log: testLog(), Metrics: e.reg,
	}
	for _, f := range edit {
		f(&e.opts)
	}
	e.rcv, err = New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(PushRoute, e.rcv.PushHandler())
	mux.Handle(LogoutRoute, e.rcv.LogoutHandler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

type answer struct {
	code int
	body string
}

// push posts a SET as the transmitter does.
func (e *env) push(set string, hdr ...string) answer {
	e.t.Helper()
	h := append([]string{"Authorization", "Bearer " + pushSecret, "Content-Type", "application/secevent+jwt"}, hdr...)
	return e.post(PushRoute, set, h...)
}

// logout posts a logout token as an identity provider does.
func (e *env) logout(tok string) answer {
	e.t.Helper()
	return e.post(LogoutRoute, url.Values{"logout_token": {tok}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
}

func (e *env) post(path, body string, hdr ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

// seqs returns the last sequences of the revocation and ledger streams:
// unchanged means nothing was stored.
func (e *env) seqs() [2]uint64 {
	e.t.Helper()
	var out [2]uint64
	for i, name := range []string{events.DefaultStreamName, events.StreamOptions{}.LedgerName()} {
		st, err := e.js.Stream(context.Background(), name)
		if err != nil {
			e.t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		out[i] = info.State.LastSeq
	}
	return out
}

// last returns the event stored under subject, or false.
func (e *env) last(subject string) (events.Event, bool) {
	e.t.Helper()
	st, err := e.js.Stream(context.Background(), events.DefaultStreamName)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		return events.Event{}, false
	}
	ev, err := events.Decode(m.Data)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev, true
}

func (e *env) counter(result string) float64 {
	return testutil.ToFloat64(e.rcv.m.signals.WithLabelValues("idp", "push", result))
}
