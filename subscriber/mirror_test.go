package subscriber

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// A sidecar reading a leaf region's mirror denies what the hub revoked,
// confirms with the hub stream's epoch (its watermarks reach the hub), and
// when the link is cut turns stale (503 under deny) instead of trusting
// its local copy, which has nothing pending and would say it is caught up;
// reconnected, it catches up and is fresh again.
func TestMirrorSidecarIsStaleWhileCutOffAndCatchesUp(t *testing.T) {
	r := natstest.StartRegions(t)
	hubNC := natstest.Connect(t, r.Hub)
	hubJS, err := jetstream.New(hubNC)
	if err != nil {
		t.Fatal(err)
	}
	leafJS, err := jetstream.New(natstest.Connect(t, r.Leaf))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hubStream, err := events.EnsureStream(ctx, hubJS, events.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := events.EnsureMirror(ctx, leafJS, hubJS, r.HubDomain, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	hub := &env{ns: r.Hub, nc: hubNC, js: hubJS}
	hub.append(t, revokeToken("before"))

	var epoch atomic.Int64 // of the last watermark heard at the hub
	sub, err := hubNC.Subscribe(events.WatermarkSubject("leaf-1"), func(m *nats.Msg) {
		if w, err := events.DecodeWatermark(m.Data); err == nil {
			epoch.Store(w.Epoch)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := hubNC.Flush(); err != nil {
		t.Fatal(err)
	}

	s := startSub(t, &env{ns: r.Leaf}, Config{ID: "leaf-1", MaxStaleness: 2 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond, StalePolicy: PolicyDeny}, nil)
	waitReady(t, s)
	natstest.Eventually(t, 10*time.Second, "the leaf sidecar denying what the hub revoked",
		func() bool { return s.Check("before").Verdict == Revoked })
	hub.append(t, revokeToken("live"))
	natstest.Eventually(t, 10*time.Second, "a live revocation reaching the leaf sidecar",
		func() bool { return s.Check("live").Verdict == Revoked })
	created := hubStream.CachedInfo().Created.UnixNano()
	natstest.Eventually(t, 10*time.Second, "a watermark with the hub stream's epoch at the hub",
		func() bool { return epoch.Load() == created })

	r.Link.Cut()
	r.WaitCut(t)
	hub.append(t, revokeToken("during the cut"))
	natstest.Eventually(t, 20*time.Second, "the cut-off sidecar stale", s.stale)
	if d := s.Check("never revoked"); d.Verdict != Unavailable {
		t.Fatalf("a cut-off sidecar under deny answered %+v", d)
	}
	natstest.Eventually(t, 10*time.Second, "/readyz naming the silent mirror", func() bool {
		return strings.Contains(strings.Join(s.Status().Problems, "; "), "last heard from its origin")
	})

	r.Link.Restore()
	natstest.Eventually(t, 30*time.Second, "the sidecar fresh and denying what was revoked during the cut", func() bool {
		return !s.stale() && s.Check("during the cut").Verdict == Revoked
	})
	if d := s.Check("never revoked"); d.Verdict != Allowed {
		t.Fatalf("after catching up: %+v", d)
	}
}
