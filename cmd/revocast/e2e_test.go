package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
)

const counts = `{"invalidated_tokens":%d,"previously_invalidated_tokens":%d,"error_count":%d}` + "\n"

// The spine, through the binary: revoke → denied within a polled deadline,
// other tokens allowed, a repeat counts as previously invalidated, and a
// restart on the same data directory still denies, never allowing the
// token while it replays.
func TestE2ERevokeDenyRestart(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir, nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })

	const tok = "dGhpcyBpcyBub3QgYSByZWFsIHRva2VuIGJ1dCBpdCBpcyBvbmx5IHRlc3QgZGF0YS4gZG8gbm90IHRyeSB0byByZWFkIHRva2VuIQ=="
	if check(d.side, tok) != 204 {
		t.Fatal("token denied before it was revoked")
	}
	start := time.Now()
	r := esRevoke(t, d.front, `{"token":"`+tok+`"}`)
	if r.code != 200 || r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r.hdr.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Fatal("no X-Elastic-Product header")
	}
	waitFor(t, "the sidecar to deny the token", func() bool { return check(d.side, tok) == 401 })
	t.Logf("revoke to enforced: %v", time.Since(start))
	if c := check(d.side, "another-token"); c != 204 {
		t.Fatalf("another token: %d", c)
	}
	r = esRevoke(t, d.front, `{"token":"`+tok+`"}`)
	if r.code != 200 || r.body != fmt.Sprintf(counts, 0, 1, 0) {
		t.Fatalf("second revoke: %d %s", r.code, r.body)
	}
	if strings.Contains(d.log(), tok) {
		t.Fatal("the raw token appears in the log")
	}
	d.stop()

	d2 := startDev(t, dir, nil)
	sawNotReady := false
	for {
		ready := httpDo(t, "GET", d2.side+"/readyz", "", "")
		c := check(d2.side, tok)
		if c == 204 {
			t.Fatal("the restarted sidecar allowed a revoked token")
		}
		if ready.code == 503 {
			sawNotReady = true
			if c != 503 && c != 401 { // 401: the replay finished between the two probes
				t.Fatalf("not ready but answered %d", c)
			}
			continue
		}
		if ready.code == 200 && c == 401 {
			break
		}
		t.Fatalf("readyz %d, check %d", ready.code, c)
	}
	t.Logf("observed /readyz 503 during the restart's replay: %v", sawNotReady)
}

// A sidecar started while NATS is down answers 503 (and /readyz 503) until it
// has connected and replayed; then it denies what the stream holds.
func TestE2ESidecarIsNotReadyUntilReplayed(t *testing.T) {
	dir := t.TempDir()
	port := natstest.FreePort(t)
	ns := natstest.StartWith(t, natstest.Options{Port: port, StoreDir: dir})
	js := natstest.JetStream(t, ns)
	if _, err := events.EnsureStream(context.Background(), js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	store, err := publisher.NewJetStreamStore(natstest.Connect(t, ns), 5*time.Second, publisher.StoreMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []publisher.Entry
	for i := 0; i < 2000; i++ {
		ev := events.NewTokenRevocation(events.TokenKey(fmt.Sprint("stored-", i)), events.AccessToken, time.Now().Add(time.Hour), time.Now())
		e, err := publisher.EventEntry(ev, events.DefaultStreamName, fmt.Sprint("m", i))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	for _, o := range store.Append(context.Background(), entries) {
		if o.Status != publisher.Stored {
			t.Fatal(o.Err)
		}
	}
	natstest.Stop(ns)

	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	p := start(t, nil, "subscriber", "--id", "late", "--subscriber-addr", "127.0.0.1:0", "--nats-url", url)
	side := p.addr("subscriber")
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) { // NATS is down: nothing can be ready
		if r := httpDo(t, "GET", side+"/readyz", "", ""); r.code != 503 {
			t.Fatalf("readyz %d with NATS down", r.code)
		}
		if c := check(side, "stored-7"); c != 503 {
			t.Fatalf("check %d with NATS down", c)
		}
	}
	natstest.StartWith(t, natstest.Options{Port: port, StoreDir: dir})
	for httpDo(t, "GET", side+"/readyz", "", "").code != 200 {
		if c := check(side, "stored-1999"); c == 204 {
			t.Fatal("allowed a stored revocation before ready")
		}
	}
	for i := 0; i < 2000; i += 97 {
		if c := check(side, fmt.Sprint("stored-", i)); c != 401 {
			t.Fatalf("stored-%d after replay: %d", i, c)
		}
	}
}

// Two sidecars with different ids both deny; a stopped one becomes a
// timeout_exception in the Elasticsearch answer.
func TestE2ETwoSidecarsAndAStoppedOne(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	second := start(t, nil, "subscriber", "--id", "second", "--subscriber-addr", "127.0.0.1:0", "--nats-url", d.nats,
		"--nats-creds", d.sidecarCreds(t, "second"))
	side2 := second.addr("subscriber")
	for _, side := range []string{d.side, side2} {
		waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", side+"/readyz", "", "").code == 200 })
	}
	waitFor(t, "the front to see both sidecars", func() bool {
		return d.find("subscriber joined", map[string]string{"subscriber": "second"}) != nil &&
			d.find("subscriber joined", map[string]string{"subscriber": "dev"}) != nil
	})
	r := esRevoke(t, d.front, `{"token":"both"}`)
	if r.code != 200 || r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("revoke: %d %s (both sidecars live: no error expected)", r.code, r.body)
	}
	for _, side := range []string{d.side, side2} {
		waitFor(t, "deny on "+side, func() bool { return check(side, "both") == 401 })
	}

	second.stop()
	r = esRevoke(t, d.front, `{"token":"after-stop"}`)
	want := `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":1,"error_details":[{"type":"timeout_exception","reason":"subscriber [second] did not confirm within [1s]; the revocation is stored and will apply when that subscriber catches up"}]}` + "\n"
	if r.code != 200 || r.body != want {
		t.Fatalf("revoke with a stopped sidecar: %d %s\nwant %s", r.code, r.body, want)
	}
	waitFor(t, "deny on the live sidecar", func() bool { return check(d.side, "after-stop") == 401 })
}

// Fifty concurrent requests for one token, across two front processes:
// exactly one counts it as invalidated.
func TestE2EFiftyConcurrentRevocationsOfOneToken(t *testing.T) {
	d := startDev(t, t.TempDir(), nil)
	pub2 := start(t, nil, "publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", d.nats, "--config", writeConfig(t, ""),
		"--nats-creds", d.frontCreds())
	front2 := pub2.addr("publisher")
	for _, f := range []string{d.front, front2} {
		waitFor(t, "front ready", func() bool { return httpDo(t, "GET", f+"/readyz", "", "").code == 200 })
	}
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	tally := map[string]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f := d.front
			if i%2 == 1 {
				f = front2
			}
			r := esRevoke(t, f, `{"token":"contested"}`)
			mu.Lock()
			tally[fmt.Sprint(r.code, " ", strings.TrimSpace(r.body))]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	one := fmt.Sprint(200, " ", strings.TrimSpace(fmt.Sprintf(counts, 1, 0, 0)))
	prev := fmt.Sprint(200, " ", strings.TrimSpace(fmt.Sprintf(counts, 0, 1, 0)))
	if tally[one] != 1 || tally[prev] != 49 {
		t.Fatalf("answers: %v", tally)
	}
}

// Flags have REVOCAST_* environment twins; bad values are refused with exit 2.
func TestE2EEnvironmentTwinsAndBadFlags(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir, []string{"REVOCAST_ID=from-env", "REVOCAST_LOG_LEVEL=debug"})
	d.waitLog("subscriber joined", map[string]string{"subscriber": "from-env"}, "subscriber")

	for _, args := range [][]string{
		{"dev", "--stale-policy", "sometimes"},
		{"subscriber"}, // no --id
		{"publisher", "--publish-timeout", "-1s"},
		{"publisher", "--max-registry-lines", "0"},
		{"publisher"}, // no --config: no principal
		{"nonsense"},
	} {
		p := start(t, nil, args...)
		<-p.done
		if code := p.cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("revocast %v exited %d, want 2", args, code)
		}
	}
	p := start(t, []string{"REVOCAST_CACHE_CAPACITY=lots"}, "dev", "--data-dir", dir)
	<-p.done
	if !strings.Contains(p.log(), "REVOCAST_CACHE_CAPACITY") {
		t.Errorf("a bad environment value is not named: %s", p.log())
	}
}

// Without a config, "revocast dev" creates an admin client at first start,
// prints its secret once on standard output, and the front refuses requests
// without credentials. The next start does not print the secret again and
// the same credentials still work.
func TestE2EDevAdminCreatedAtFirstStart(t *testing.T) {
	dir := t.TempDir()
	args := []string{"dev", "--data-dir", dir, "--publisher-addr", "127.0.0.1:0", "--subscriber-addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}
	p := start(t, nil, args...)
	front := p.addr("publisher")
	var secret string
	waitFor(t, "the admin secret on standard output", func() bool {
		p.mu.Lock()
		out := p.stdout.String()
		p.mu.Unlock()
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "secret:"); ok {
				secret = strings.TrimSpace(v)
			}
		}
		return secret != ""
	})
	if strings.Contains(p.log(), secret) {
		t.Fatal("the admin secret is in the log")
	}
	r := httpDo(t, "DELETE", front+"/_security/oauth2/token", "application/json", `{"token":"t1"}`)
	if r.code != 401 || r.hdr.Get("X-Elastic-Product") != "" {
		t.Fatalf("no credentials: %d %s", r.code, r.body)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+secret))
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", front+"/readyz", "", "").code == 200 })
	r = httpDo(t, "DELETE", front+"/_security/oauth2/token", "application/json", `{"token":"t1"}`, "Authorization", basic)
	if r.code != 200 {
		t.Fatalf("with the printed credentials: %d %s", r.code, r.body)
	}
	p.stop()

	p2 := start(t, nil, args...)
	front2 := p2.addr("publisher")
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", front2+"/readyz", "", "").code == 200 })
	r = httpDo(t, "DELETE", front2+"/_security/oauth2/token", "application/json", `{"token":"t1"}`, "Authorization", basic)
	if r.code != 200 || r.body != fmt.Sprintf(counts, 0, 1, 0) {
		t.Fatalf("after restart: %d %s", r.code, r.body)
	}
	p2.mu.Lock()
	out := p2.stdout.String()
	p2.mu.Unlock()
	if strings.Contains(out, secret) || !strings.Contains(out, "printed at first start") {
		t.Fatalf("second start printed %q", out)
	}
}

// Seen: REVOCAST_CACHE_CAPACITY=abc said only "parse error", a bare
// REVOCAST_PUBLISH_TIMEOUT=5 did not say a unit is needed, a flag of the
// wrong type printed fifty lines of usage that pushed the error off screen,
// and subscriber without --id did not name --id. Each now names the flag, the
// value and the form wanted, in at most two lines, exit status 2.
func TestE2EFlagErrorsNameTheFlagAndTheForm(t *testing.T) {
	for _, c := range []struct {
		env  []string
		args []string
		want []string
	}{
		{[]string{"REVOCAST_CACHE_CAPACITY=abc"}, []string{"subscriber", "--id", "x"}, []string{"REVOCAST_CACHE_CAPACITY", `"abc"`, "--cache-capacity", "whole number"}},
		{[]string{"REVOCAST_PUBLISH_TIMEOUT=5"}, []string{"publisher"}, []string{"REVOCAST_PUBLISH_TIMEOUT", "--publish-timeout", "unit", "5s"}},
		{nil, []string{"subscriber", "--id", "x", "--cache-capacity", "lots"}, []string{"cache-capacity", `"lots"`, "whole number", "revocast subscriber -h"}},
		{nil, []string{"publisher", "--max-staleness", "1s"}, []string{"not defined", "-max-staleness", "revocast publisher -h"}},
		{nil, []string{"subscriber"}, []string{"--id"}},
	} {
		p := start(t, c.env, c.args...)
		<-p.done
		out := strings.TrimSpace(p.log())
		if code := p.cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%v %v: exit %d", c.env, c.args, code)
		}
		if n := strings.Count(out, "\n") + 1; n > 2 {
			t.Errorf("%v %v: %d lines:\n%s", c.env, c.args, n, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v %v: %q does not say %q", c.env, c.args, out, w)
			}
		}
	}
}

// Seen: the README's config example listed formats its client could not
// use (RFC 7009 and OneLogin calls failed for tokens of an unknown realm).
// The example, with its placeholder hashes replaced, runs as shown: every
// client revokes an opaque token through every format it is allowed.
func TestREADMEConfigExampleWorks(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "```yaml\nclients:")
	if start < 0 {
		t.Fatal("no config example in the README")
	}
	block := text[start+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	placeholder := regexp.MustCompile(`"\$(argon2id|2a)\$[^"]*\.\.\."`)
	cfg := placeholder.ReplaceAllLiteralString(block, "'"+testHash()+"'")
	path := filepath.Join(t.TempDir(), "revocast.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, t.TempDir(), nil, "--config", path)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	basicOf := func(id string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+testSecret))
	}
	for i, c := range []struct {
		format, id string
		do         func(tok string) response
	}{
		{"oam", "DemoClientId", func(tok string) response {
			return httpDo(t, "POST", d.front+"/oauth2/rest/token/revoke", "application/x-www-form-urlencoded", "token="+tok,
				"Authorization", basicOf("DemoClientId"), "x-oauth-identity-domain-name", "DemoDomain")
		}},
		{"rfc7009", "portal", func(tok string) response {
			return httpDo(t, "POST", d.front+"/oauth2/revoke", "application/x-www-form-urlencoded", "token="+tok,
				"Authorization", basicOf("portal"))
		}},
		{"onelogin", "portal", func(tok string) response {
			return httpDo(t, "POST", d.front+"/auth/oauth2/revoke", "application/json", `{"access_token":"`+tok+`"}`,
				"Authorization", "client_id:portal, client_secret:"+testSecret)
		}},
		{"elasticsearch", "elastic", func(tok string) response {
			return esRevoke(t, d.front, `{"token":"`+tok+`"}`, "Authorization", basicOf("elastic"))
		}},
	} {
		tok := fmt.Sprintf("readme-example-token-%d", i)
		if r := c.do(tok); r.code != 200 {
			t.Errorf("%s as %s: %d %s", c.format, c.id, r.code, r.body)
		}
		if code := check(d.side, tok); code != 401 {
			t.Errorf("%s as %s: the token answers %d", c.format, c.id, code)
		}
	}
}
