package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natstest"
)

// Two regions through the real binary: a hub with the front, its streams
// and a sidecar; a leaf node (its own JetStream domain) with a mirror made
// by revocast init --mirror-from and a sidecar reading it. The leaf's
// sidecar confirms the hub's requests (no timeout_exception), denies what
// the hub revoked; cut off, it turns stale and answers 503 (--stale-policy
// deny) after --max-staleness; reconnected, it catches up.
func TestE2ERegionLeafMirror(t *testing.T) {
	r := natstest.StartRegions(t)
	hubURL, leafURL := r.Hub.ClientURL(), r.Leaf.ClientURL()
	revocastMust(t, "init", "--nats-url", hubURL)
	out, _ := revocastMust(t, "init", "--nats-url", leafURL, "--mirror-from", r.HubDomain)
	if !strings.Contains(out, "mirror REVOCAST of REVOCAST in JetStream domain hub is ready") {
		t.Fatalf("init --mirror-from said: %s", out)
	}
	front := start(t, nil, "publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", hubURL, "--config", writeConfig(t, ""))
	frontURL := front.addr("publisher")
	hubSide := start(t, nil, "subscriber", "--id", "hub-1", "--subscriber-addr", "127.0.0.1:0", "--nats-url", hubURL).addr("subscriber")
	leafSide := start(t, nil, "subscriber", "--id", "leaf-1", "--subscriber-addr", "127.0.0.1:0", "--nats-url", leafURL,
		"--max-staleness", "3s", "--heartbeat-interval", "200ms", "--stale-policy", "deny").addr("subscriber")
	waitFor(t, "both sidecars ready and live at the front", func() bool {
		return httpDo(t, "GET", hubSide+"/readyz", "", "").code == 200 && httpDo(t, "GET", leafSide+"/readyz", "", "").code == 200 &&
			strings.Contains(httpDo(t, "GET", frontURL+"/metrics", "", "").body, "revocast_publisher_live_subscribers 2")
	})

	r1 := esRevoke(t, frontURL, `{"token":"region-before"}`)
	if r1.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("a revocation both regions' sidecars must confirm: %s", r1.body)
	}
	for _, side := range []string{hubSide, leafSide} {
		if c := check(side, "region-before"); c != 401 {
			t.Fatalf("%s answers %d right after the confirmed revocation", side, c)
		}
	}
	out, _ = revocastMust(t, "events", "info", "--json", "--listen", "1s", "--nats-url", hubURL)
	var info infoReport
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Sidecars) != 2 || info.Sidecars[1].ID != "leaf-1" || info.Sidecars[1].Lag == nil || *info.Sidecars[1].Lag != 0 {
		t.Fatalf("events info at the hub: %s", out)
	}
	out, _ = revocastMust(t, "events", "info", "--json", "--listen", "1s", "--nats-url", leafURL)
	info = infoReport{}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if m := info.Stream.Mirror; m == nil || m.OriginDomain != "hub" || m.OriginCreated == nil || info.Stream.LastSeq != 1 {
		t.Fatalf("events info at the leaf: %s", out)
	}

	r.Link.Cut()
	r.WaitCut(t)
	if r2 := esRevoke(t, frontURL, `{"token":"region-during"}`); r2.code != 200 {
		t.Fatalf("revoking at the hub while the leaf is cut off: %d %s", r2.code, r2.body)
	}
	if c := check(hubSide, "region-during"); c != 401 {
		t.Fatalf("the hub's sidecar answers %d", c)
	}
	waitFor(t, "the cut-off leaf sidecar stale and refusing checks", func() bool {
		rz := httpDo(t, "GET", leafSide+"/readyz", "", "")
		return rz.code == 503 && strings.Contains(rz.body, "stale") && strings.Contains(rz.body, "last heard from its origin") &&
			check(leafSide, "never-revoked") == 503
	})

	r.Link.Restore()
	waitFor(t, "the leaf sidecar caught up", func() bool {
		return httpDo(t, "GET", leafSide+"/readyz", "", "").code == 200 && check(leafSide, "region-during") == 401
	})
	if c := check(leafSide, "never-revoked"); c != 204 {
		t.Fatalf("after catching up the leaf sidecar answers %d for a token nobody revoked", c)
	}
	waitFor(t, "the leaf sidecar live at the front again", func() bool {
		return strings.Contains(httpDo(t, "GET", frontURL+"/metrics", "", "").body, "revocast_publisher_live_subscribers 2")
	})
	start := time.Now()
	if r3 := esRevoke(t, frontURL, `{"token":"region-after"}`); r3.body != fmt.Sprintf(counts, 1, 0, 0) {
		t.Fatalf("after the link is back, both regions confirm again: %s", r3.body)
	}
	if c := check(leafSide, "region-after"); c != 401 {
		t.Fatalf("the leaf sidecar answers %d right after a confirmed revocation (%s)", c, time.Since(start))
	}
}
