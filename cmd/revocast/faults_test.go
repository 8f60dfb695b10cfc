package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natsconn"
	"github.com/revocast/revocast/subscriber"
)

// The fault tests run the front and sidecars in this process, each on its
// own NATS connection made as the binary makes it (natsconn.Connect: the
// role's inbox prefix, reconnecting forever), so a connection can go
// through a faultproxy or to any node of a cluster.

// testLog is the components' log: REVOCAST_TEST_LOG=1 shows it.
func testLog(name string) zerolog.Logger {
	if os.Getenv("REVOCAST_TEST_LOG") != "1" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Str("c", name).Logger()
}

// dialAs connects to urls as a role with its inbox prefix (name: a
// sidecar's id, "" for a front), anonymously: the test servers are plain.
func dialAs(t testing.TB, urls string, r natsauth.Role, name string, extra ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := natsconn.Connect(natsconn.Options{URLs: urls, Name: string(r) + "-" + name, InboxPrefix: natsauth.InboxPrefix(r, name),
		Extra: extra}, testLog(string(r)+"-"+name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// startFront runs a front on nc (managing the streams) behind an HTTP server.
func startFront(t testing.TB, nc *nats.Conn, tweak ...func(*commonOpts, *pubOpts)) *system {
	t.Helper()
	c, p := defaultOpts()
	for _, f := range tweak {
		f(&c, &p)
	}
	f, err := newFront(c, p, &config{}, adminCreds(testID, testHash()), nc, nil, nil, testLog("front"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", srv.URL+"/readyz", "", "").code == 200 })
	return &system{t: t, front: f, url: srv.URL}
}

// inSidecar is an in-process sidecar with its HTTP API, which can be stopped
// and started again on a new connection.
type inSidecar struct {
	id   string
	sub  *subscriber.Subscriber
	url  string // its HTTP API
	nc   *nats.Conn
	stop func()
}

// startSidecar runs a sidecar on nc with cfg (ID and a 100 ms heartbeat
// unless set) and waits until it has replayed the stream.
func startSidecar(t testing.TB, nc *nats.Conn, cfg subscriber.Config) *inSidecar {
	t.Helper()
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 100 * time.Millisecond
	}
	dc, err := cache.New(cache.Config{Capacity: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := subscriber.New(cfg, nc, dc, testLog(cfg.ID), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	srv := httptest.NewServer(sub.Handler(nil))
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sidecar %s: %v", cfg.ID, err)
			}
			srv.Close()
			dc.Close()
		})
	}
	t.Cleanup(stop)
	sc := &inSidecar{id: cfg.ID, sub: sub, url: srv.URL, nc: nc, stop: stop}
	waitFor(t, cfg.ID+" ready", func() bool { return sub.Status().Ready })
	return sc
}

// seenBy waits until the front counts the sidecar as live.
func (s *system) seenBy(ids ...string) {
	s.t.Helper()
	waitFor(s.t, fmt.Sprint(ids, " seen by the front"), func() bool {
		live := s.front.tracker.Live()
		for _, id := range ids {
			if !slices.Contains(live, id) {
				return false
			}
		}
		return true
	})
}

// format is one of the four revocation routes: revoke sends a token's
// revocation (code 0: the front did not answer). Safe in any goroutine.
type format struct {
	name   string
	revoke func(front, token string) response
}

var formats = []format{
	{"elasticsearch", func(front, tok string) response {
		return tryDo("DELETE", front+"/_security/oauth2/token", "application/json", `{"token":"`+tok+`"}`, "Authorization", testBasic)
	}},
	{"oam", func(front, tok string) response {
		return tryDo("POST", front+"/oauth2/rest/token/revoke", "application/x-www-form-urlencoded;charset=UTF-8",
			"token="+url.QueryEscape(tok)+"&token_type=ACCESS_TOKEN", "Authorization", testBasic, "x-oauth-identity-domain-name", "DemoDomain")
	}},
	{"onelogin", func(front, tok string) response {
		return tryDo("POST", front+"/auth/oauth2/revoke", "application/json", `{"access_token":"`+tok+`"}`,
			"Authorization", "client_id:"+testID+", client_secret:"+testSecret)
	}},
	{"rfc7009", func(front, tok string) response {
		return tryDo("POST", front+"/oauth2/revoke", "application/x-www-form-urlencoded",
			"token="+url.QueryEscape(tok)+"&token_type_hint=access_token", "Authorization", testBasic)
	}},
}

// tryDo is httpDo for any goroutine: a transport error is code 0 and its text.
func tryDo(method, url, contentType, body string, hdr ...string) response {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return response{body: err.Error()}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b), hdr: resp.Header}
}

// tally counts the answers of a load.
type tally struct {
	mu      sync.Mutex
	ok      []string // tokens answered 2xx
	codes   map[int]int
	bodies  map[int]string // one body per non-2xx code
	timeout int            // 2xx answers naming a timeout_exception
}

func newTally() *tally { return &tally{codes: map[int]int{}, bodies: map[int]string{}} }

func (ta *tally) add(tok string, r response) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.codes[r.code]++
	if r.code/100 == 2 {
		ta.ok = append(ta.ok, tok)
		if strings.Contains(r.body, "timeout_exception") || strings.Contains(r.body, "did not confirm") {
			ta.timeout++
		}
		return
	}
	if _, seen := ta.bodies[r.code]; !seen {
		ta.bodies[r.code] = r.body
	}
}

func (ta *tally) stored() []string {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return slices.Clone(ta.ok)
}

func (ta *tally) String() string {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return fmt.Sprintf("codes %v, 2xx with a timeout %d, first bodies %v", ta.codes, ta.timeout, ta.bodies)
}

// load revokes tokens prefix-0, prefix-1, ... through the four formats in
// turn from workers goroutines, each request after the previous one
// answered plus pause, until stop is closed or n are sent, counting the
// answers into ta as they come.
func load(ta *tally, front, prefix string, workers, n int, pause time.Duration, stop <-chan struct{}) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				tok := fmt.Sprintf("%s-%d", prefix, i)
				ta.add(tok, formats[i%len(formats)].revoke(front, tok))
				if pause > 0 {
					select {
					case <-stop:
						return
					case <-time.After(pause):
					}
				}
			}
		}()
	}
	wg.Wait()
}

// missing returns the tokens a sidecar does not deny as revoked.
func missing(sc *subscriber.Subscriber, tokens []string) []string {
	var out []string
	for _, tok := range tokens {
		if sc.Check(tok).Verdict != subscriber.Revoked {
			out = append(out, tok)
		}
	}
	return out
}

// checkHTTP asks a sidecar's HTTP API about a token: the status and
// whether the answer is flagged stale.
func checkHTTP(side, token string) (int, bool) {
	req, _ := http.NewRequest(http.MethodGet, side+"/v1/check", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Revocast-Stale") == "true"
}
