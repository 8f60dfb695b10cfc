//go:build !race

package main

import (
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natstest"
)

// killSidecar SIGKILLs a sidecar process and waits until it is gone.
func killSidecar(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// startSubscriber runs `revocast subscriber` against a dev's NATS with its
// own credentials and returns it with its HTTP address.
func startSubscriber(t *testing.T, d *devProc, id, creds string) (*proc, string) {
	t.Helper()
	p := start(t, nil, "subscriber", "--id", id, "--subscriber-addr", "127.0.0.1:0", "--nats-url", d.nats, "--nats-creds", creds)
	return p, p.addr("subscriber")
}

// Under -race the binary serves these 5,000 revocations in about a minute,
// so this runs in the second pass, without it.
//
// A sidecar process (the real binary, its own NATS credentials) is killed
// with SIGKILL twice during 5,000 revocations through the four formats and
// started again at once each time: until the new one has replayed, every
// check of a token already revoked answers 401 or 503, never 204; the
// front answers every request 200; at the end the sidecar denies all
// 5,000.
func TestFaultSidecarKilledMidReplayFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 revocations through the binary")
	}
	d := startDev(t, t.TempDir(), nil)
	creds := d.sidecarCreds(t, "killed")
	side, addr := startSubscriber(t, d, "killed", creds)
	waitFor(t, "the sidecar ready", func() bool { return readyz(addr) })
	waitFor(t, "the front to see it", func() bool {
		return d.find("subscriber joined", map[string]string{"subscriber": "killed"}) != nil
	})

	const n = 5000
	ta := newTally()
	done := make(chan struct{})
	go func() { load(ta, d.front, "killed", 8, n, 0, nil); close(done) }()
	kills, checks := 0, 0
	for _, at := range []int{n / 3, 2 * n / 3} {
		natstest.Eventually(t, time.Minute, "load progress", func() bool { return len(ta.stored()) >= at })
		killSidecar(t, side)
		kills++
		side, addr = startSubscriber(t, d, "killed", creds)
		revoked := ta.stored()
		// Until it is ready, it fails closed; poll /readyz and checks.
		for k := 0; ; k++ {
			ready := readyz(addr)
			tok := revoked[k%len(revoked)]
			code, _ := checkHTTP(addr, tok)
			checks++
			if code == 204 {
				t.Fatalf("restarted sidecar allowed %s, revoked before it started (ready %v)", tok, ready)
			}
			if ready && code == 401 {
				break
			}
			if k > 200_000 {
				t.Fatal("the restarted sidecar never became ready")
			}
		}
	}
	<-done
	t.Logf("%d revocations: %s; %d kills, %d checks while replaying", n, ta, kills, checks)
	if ta.codes[200] != n {
		t.Errorf("not every revocation answered 200: %s", ta)
	}
	var absent []string
	waitFor(t, "the sidecar denying all 5,000", func() bool {
		absent = absent[:0]
		for _, tok := range ta.stored() {
			if c, _ := checkHTTP(addr, tok); c != 401 {
				absent = append(absent, tok)
			}
		}
		return len(absent) == 0
	})
}
