//go:build !race

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The race detector multiplies memory, so this file's RSS bound is only
// built without it: go test -run TestE2ERegistry64MiBBoundedRSS ./cmd/revocast/

// vmHWM is the peak resident set size of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// cpuTime is the CPU time process pid has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// after the command's name in parentheses: state is field 3, utime 14, stime 15 (in 1/100 s)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// registryBody is size bytes (at most) of valid NDJSON records and the
// number of lines.
func registryBody(size int) ([]byte, int) {
	var b bytes.Buffer
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	n := 0
	for {
		line := fmt.Sprintf(`{"token":"rss-%d-%010d","type":"access_token","realm":"saml1","username":"user-%d","client_id":"app-%d","expires_at":%q}`+"\n",
			time.Now().UnixNano(), n, n%100, n%7, exp)
		if b.Len()+len(line) > size {
			return b.Bytes(), n
		}
		b.WriteString(line)
		n++
	}
}

// SEEN (H1): one valid 64 MiB NDJSON registration raised the front's RSS
// from 62 MiB to 1,051 MiB. The feed streams: the front's peak RSS rises by
// at most 128 MiB. The front runs alone (revocast publisher), on the NATS
// server of a revocast dev: the server's own memory grows with the keys it
// stores (reported, not bounded here).
func TestE2ERegistry64MiBBoundedRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("registers a 64 MiB body")
	}
	d := startDev(t, t.TempDir(), nil)
	pub := start(t, nil, "publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", d.nats, "--config", writeConfig(t, ""),
		"--nats-creds", d.frontCreds())
	front := pub.addr("publisher")
	waitFor(t, "front ready", func() bool { return httpDo(t, "GET", front+"/readyz", "", "").code == 200 })
	body, lines := registryBody(64 << 20)
	before, natsBefore := vmHWM(t, pub.cmd.Process.Pid), vmHWM(t, d.cmd.Process.Pid)
	cpu, natsCPU := cpuTime(t, pub.cmd.Process.Pid), cpuTime(t, d.cmd.Process.Pid)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", front+"/v1/tokens", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", testBasic)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	after, natsAfter := vmHWM(t, pub.cmd.Process.Pid), vmHWM(t, d.cmd.Process.Pid)
	cpu, natsCPU = cpuTime(t, pub.cmd.Process.Pid)-cpu, cpuTime(t, d.cmd.Process.Pid)-natsCPU

	rise := after - before
	t.Logf("%d lines, %d bytes registered in %v (%.0f tokens/s); CPU: front %v, NATS (revocast dev) %v",
		lines, len(body), took.Round(time.Millisecond), float64(lines)/took.Seconds(), cpu, natsCPU)
	t.Logf("front VmHWM %d MiB before, %d MiB after: rise %d MiB; NATS (revocast dev) VmHWM %d MiB before, %d MiB after",
		before>>20, after>>20, rise>>20, natsBefore>>20, natsAfter>>20)
	if resp.StatusCode != 200 || string(answer) != fmt.Sprintf(`{"registered":%d}`+"\n", lines) {
		t.Fatalf("%d %.500s", resp.StatusCode, answer)
	}
	if rise > 128<<20 {
		t.Fatalf("a 64 MiB registration raised the front's peak RSS by %d MiB (at most 128 MiB)", rise>>20)
	}
}
