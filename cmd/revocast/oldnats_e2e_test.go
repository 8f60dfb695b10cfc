package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natstest"
)

// Seen: against Debian's NATS 2.9 the front logged "limit marker TTLs not
// supported by server" forever without saying that 2.11 or newer is
// required. Both the front and the sidecar now refuse an older server at
// connect, saying which version they need, and exit 1. Runs Debian's own
// nats-server (2.9); .ci/run installs it.
func TestE2ERefusesNATSOlderThan211(t *testing.T) {
	natstest.RequireProgram(t, "nats-server", "REVOCAST_REQUIRE_OLD_NATS")
	out, err := exec.Command("nats-server", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "v2.9.") && !strings.Contains(string(out), "v2.10.") {
		t.Skipf("the installed nats-server is %s, not one older than 2.11", strings.TrimSpace(string(out)))
	}
	port := natstest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, "nats-server", "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	for _, args := range [][]string{
		{"publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", url, "--config", writeConfig(t, "")},
		{"subscriber", "--id", "old", "--subscriber-addr", "127.0.0.1:0", "--nats-url", url},
	} {
		p := start(t, nil, args...)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("revocast %s kept running against NATS %s", args[0], strings.TrimSpace(string(out)))
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.log(), "needs nats-server 2.11.0 or newer") {
			t.Fatalf("revocast %s: exit %d\n%s", args[0], code, p.log())
		}
	}
}
