//go:build !race

// The quick run runs without the race detector (make test's second pass):
// under it, the harness's embedded NATS server doubled the run's CPU while
// the -race pass's longest package ran beside it, and the harness measures
// processes of a binary that is never race-built anyway.

package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickRunEndToEnd runs the whole harness with --quick against the
// real binary: every measure must run (none failed or cut short), and the
// report and both plots must be written. Without redis-server the Redis
// baselines are reported as not measured, which fails the test only when
// REVOCAST_REQUIRE_REDIS is set (.ci/run sets it and installs redis-server).
func TestQuickRunEndToEnd(t *testing.T) {
	// The binary is built without the race detector, as make bench builds
	// it (cmd/revocast's tests race-check the binary).
	bin := filepath.Join(t.TempDir(), "revocast")
	build := exec.Command("go", "build", "-o", bin, "../revocast")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if _, err := findRedis(""); errors.Is(err, errNoRedis) {
		if os.Getenv("REVOCAST_REQUIRE_REDIS") != "" {
			t.Fatalf("REVOCAST_REQUIRE_REDIS is set: %v", err)
		}
		t.Logf("%v: the Redis baselines will be reported as not measured", err)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	err := run(ctx, []string{"--quick", "--bin", bin, "--out", out}, &stdout, &stderr)
	t.Logf("quick run took %s; progress:\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(out, "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	for _, want := range []string{"## Machine", "## Versions", "## Commands", "| measure | figure |",
		"front: ES single-token", "check: `GET /v1/check`", "in-process `Subscriber.Check`", "revoke→enforced",
		"empty handler", "bare JetStream consumers",
		"cold replay", "memory per live revocation", "revoke a user", "start-up stall", "rival under fault"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, bad := range []string{"| failed: ", "| not run: "} {
		if strings.Contains(report, bad) {
			t.Errorf("a measure did not complete (%q):\n%s", bad, report)
		}
	}
	// The baselines the harness runs itself (processes of its own binary)
	// are measured whatever is installed.
	for _, m := range []string{": sidecar CPU per applied revocation", "beside an empty net/http handler (204 to every request, its own process, the same clients)"} {
		cells := rowOf(report, m)
		if cells == nil {
			t.Errorf("the report has no row ending in %q", m)
		} else if strings.HasPrefix(cells[2], "not measured") {
			t.Errorf("row %q: baseline %s", m, cells[2])
		}
	}
	// A missed check target with both its baselines measured is explained.
	if c := rowOf(report, ", 1,000 revoked"); c != nil && c[5] == "**no**" && !strings.HasPrefix(c[2], "not measured") &&
		!strings.Contains(report, "## Bounds\n\nWhat bounds") {
		t.Errorf("the check missed its target beside Redis, and the report has no Bounds section:\n%s", report)
	}
	if !strings.Contains(stdout.String(), "| measure | figure |") {
		t.Errorf("the table is not on standard output:\n%s", stdout.String())
	}
	for _, name := range []string{"revoke-to-enforced-cdf.png", "replay-progress.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("%s is not a plot: %v", name, err)
		}
	}
}

// rowOf returns the cells of the table row whose measure ends in suffix.
func rowOf(report, suffix string) []string {
	for _, l := range strings.Split(report, "\n") {
		cells := strings.Split(strings.Trim(l, "|"), " | ")
		if len(cells) == 6 && strings.HasSuffix(strings.TrimSpace(cells[0]), suffix) {
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return cells
		}
	}
	return nil
}
