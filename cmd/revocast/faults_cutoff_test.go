package main

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/revocast/revocast/internal/faultproxy"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/subscriber"
)

// Two sidecars reach NATS through a proxy that is cut and black-holed
// while the front goes on revoking: past --max-staleness (2 s here) the
// one with --stale-policy deny answers 503 to everything, the one with
// allow answers from what it has and flags X-Revocast-Stale (a revocation
// made meanwhile is still allowed there). Once the proxy relays again,
// everything revoked meanwhile is denied by both, and the deny sidecar
// answers 204 for a token nobody revoked, within a second of the reconnect.
func TestFaultSidecarCutOffFollowsPolicyAndCatchesUp(t *testing.T) {
	ns := natstest.Start(t)
	proxy, err := faultproxy.Start(ns.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	sys := startFront(t, dialAs(t, ns.ClientURL(), natsauth.Front, ""), func(_ *commonOpts, p *pubOpts) {
		p.presenceTimeout = time.Second
	})
	var reconnected [2]atomic.Int64 // Unix ns of each sidecar's last reconnect
	sides := make([]*inSidecar, 2)
	for i, policy := range []subscriber.StalePolicy{subscriber.PolicyDeny, subscriber.PolicyAllow} {
		id := string(policy)
		nc := dialAs(t, proxy.URL(), natsauth.Sidecar, id,
			nats.ReconnectHandler(func(*nats.Conn) { reconnected[i].Store(time.Now().UnixNano()) }))
		sides[i] = startSidecar(t, nc, subscriber.Config{ID: id, StalePolicy: policy, MaxStaleness: 2 * time.Second,
			HeartbeatInterval: time.Second})
	}
	deny, allow := sides[0], sides[1]
	sys.seenBy("deny", "allow")
	if r := formats[0].revoke(sys.url, "cut-before"); r.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("before the cut: %d %s", r.code, r.body)
	}

	proxy.Blackhole()
	proxy.Cut()
	cut := time.Now()
	var during []string
	for i := range 20 {
		tok := fmt.Sprintf("cut-during-%d", i)
		if r := formats[i%len(formats)].revoke(sys.url, tok); r.code != 200 {
			t.Fatalf("%s: %d %s", tok, r.code, r.body)
		}
		during = append(during, tok)
	}
	waitFor(t, "the deny sidecar answering 503", func() bool { c, _ := checkHTTP(deny.url, "cut-before"); return c == 503 })
	t.Logf("the deny sidecar answered 503 %v after the cut", time.Since(cut).Round(time.Millisecond))
	if time.Since(cut) < 2*time.Second-1100*time.Millisecond { // the last confirmation was at most a heartbeat before the cut
		t.Errorf("503 before --max-staleness")
	}
	if c, _ := checkHTTP(deny.url, "never-revoked"); c != 503 {
		t.Errorf("stale, deny: an unrevoked token answered %d, want 503", c)
	}
	waitFor(t, "the allow sidecar flagging its answers stale", func() bool { _, stale := checkHTTP(allow.url, "cut-before"); return stale })
	if c, stale := checkHTTP(allow.url, "cut-before"); c != 401 || !stale {
		t.Errorf("stale, allow: a token revoked before the cut answered %d (stale %v), want 401 flagged", c, stale)
	}
	if c, stale := checkHTTP(allow.url, during[0]); c != 204 || !stale {
		t.Errorf("stale, allow: a token revoked during the cut answered %d (stale %v), want 204 flagged", c, stale)
	}

	proxy.Restore()
	waitFor(t, "both sidecars reconnected", func() bool {
		return reconnected[0].Load() > cut.UnixNano() && reconnected[1].Load() > cut.UnixNano()
	})
	waitFor(t, "everything revoked meanwhile denied by both", func() bool {
		if c, _ := checkHTTP(deny.url, "never-revoked"); c != 204 {
			return false
		}
		for _, tok := range during {
			if c, _ := checkHTTP(deny.url, tok); c != 401 {
				return false
			}
			if c, stale := checkHTTP(allow.url, tok); c != 401 || stale {
				return false
			}
		}
		return true
	})
	applied := time.Now()
	for i, sc := range sides {
		took := applied.Sub(time.Unix(0, reconnected[i].Load()))
		t.Logf("sidecar %s: reconnect to everything applied and not stale: %v", sc.id, took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("sidecar %s took %v from its reconnect to deny what was revoked meanwhile, want at most 1s", sc.id, took)
		}
	}
}
