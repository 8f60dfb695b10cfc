package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher/auth"
)

// binary is the revocast binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "revocast-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "revocast")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building revocast:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running revocast process whose JSON log is watched.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu     sync.Mutex
	lines  []map[string]any
	raw    bytes.Buffer
	stdout bytes.Buffer
}

// start runs revocast with args and env (KEY=VALUE) and stops it (SIGTERM)
// when the test ends.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd runs a prepared revocast command (another binary, another root)
// like start.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	args := cmd.Args[1:]
	p := &proc{t: t, done: make(chan struct{}), cmd: cmd}
	p.cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.stdout}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(stderr)
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("log of revocast %s:\n%s", strings.Join(args, " "), p.log())
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		_ = json.Unmarshal(sc.Bytes(), &m)
		p.mu.Lock()
		p.raw.Write(sc.Bytes())
		p.raw.WriteByte('\n')
		if m != nil {
			p.lines = append(p.lines, m)
		}
		p.mu.Unlock()
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// find returns the first log line with message msg whose fields include match.
func (p *proc) find(msg string, match map[string]string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l["message"] != msg {
			continue
		}
		ok := true
		for k, v := range match {
			if fmt.Sprint(l[k]) != v {
				ok = false
			}
		}
		if ok {
			return l
		}
	}
	return nil
}

// waitLog waits for a log line and returns its field.
func (p *proc) waitLog(msg string, match map[string]string, field string) string {
	p.t.Helper()
	var line map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for line = p.find(msg, match); line == nil; line = p.find(msg, match) {
		select {
		case <-p.done:
			p.t.Fatalf("revocast exited (%v) before logging %q %v", p.err, msg, match)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no log line %q %v within 30s", msg, match)
		}
	}
	return fmt.Sprint(line[field])
}

// addr returns the address a component listens on.
func (p *proc) addr(component string) string {
	return "http://" + p.waitLog("listening", map[string]string{"component": component}, "addr")
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Errorf("revocast exited with %v after SIGTERM", p.err)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("revocast did not stop within 30s of SIGTERM")
	}
}

// dev starts "revocast dev" on free ports with its data in dir.
type devProc struct {
	*proc
	front, side, nats string
	dir               string // --data-dir
}

// frontCreds is the dev front's NATS credentials file, for another front.
func (d *devProc) frontCreds() string { return filepath.Join(d.dir, "nats", "front.creds") }

// sidecarCreds mints NATS credentials for another sidecar of this dev's
// NATS with revocast nats-creds, and returns the file.
func (d *devProc) sidecarCreds(t testing.TB, id string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), id+".creds")
	if b, err := exec.Command(binary, "nats-creds", "--dir", filepath.Join(d.dir, "nats"), "--role", "sidecar",
		"--name", id, "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("nats-creds: %v %s", err, b)
	}
	return out
}

// The admin client the end-to-end tests use (REVOCAST_DEV_CLIENT).
const (
	testID     = "e2e"
	testSecret = "e2e-secret"
	testBasic  = "Basic ZTJlOmUyZS1zZWNyZXQ=" // e2e:e2e-secret
)

// testHash is testSecret's hash, computed once.
var testHash = sync.OnceValue(func() string {
	h, err := auth.HashSecret(testSecret)
	if err != nil {
		panic(err)
	}
	return h
})

// writeConfig writes a --config file giving the test principal every right.
func writeConfig(t testing.TB, extra string) string {
	t.Helper()
	h := testHash()
	body := fmt.Sprintf("clients:\n  - {id: %s, secret_hash: '%s', allow: ['*'], realms: ['*']}\n"+
		"users:\n  - {username: %s, password_hash: '%s', allow: ['*'], realms: ['*']}\n%s", testID, h, testID, h, extra)
	path := filepath.Join(t.TempDir(), "revocast.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startDev(t *testing.T, dir string, env []string, extra ...string) *devProc {
	t.Helper()
	env = append([]string{"REVOCAST_DEV_CLIENT=" + testID + ":" + testSecret}, env...)
	args := append([]string{"dev", "--data-dir", dir, "--publisher-addr", "127.0.0.1:0", "--subscriber-addr", "127.0.0.1:0",
		"--nats-listen", "127.0.0.1:0"}, extra...)
	p := start(t, env, args...)
	d := &devProc{proc: p, front: p.addr("publisher"), side: p.addr("subscriber"), dir: dir}
	d.nats = p.waitLog("nats listening", nil, "url")
	return d
}

var client = &http.Client{Timeout: 30 * time.Second}

type response struct {
	code int
	body string
	hdr  http.Header
}

func httpDo(t testing.TB, method, url, contentType, body string, hdr ...string) response {
	t.Helper()
	return httpDoWith(t, client, method, url, contentType, body, hdr...)
}

// httpDoWith is httpDo with another client (HTTPS, a client certificate).
func httpDoWith(t testing.TB, c *http.Client, method, url, contentType, body string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b), hdr: resp.Header}
}

// check asks a sidecar about a bearer token; 0 when it does not answer.
func check(side, token string) int {
	req, _ := http.NewRequest(http.MethodGet, side+"/v1/check", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// esRevoke sends an Elasticsearch revocation as the test principal (hdr
// may override Authorization).
func esRevoke(t testing.TB, front, body string, hdr ...string) response {
	t.Helper()
	return httpDo(t, http.MethodDelete, front+"/_security/oauth2/token", "application/json", body,
		append([]string{"Authorization", testBasic}, hdr...)...)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	natstest.Eventually(t, 20*time.Second, what, cond)
}
