package subscriber

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// Seen: a sidecar rebuilt from scratch (failing closed while it replayed)
// because it compared the stream's last sequence, read from a stream info,
// with its applied sequence read afterwards: a revocation stored and
// applied in between looked like a stream holding less than was applied.
// Revocations arriving while the sidecar checks the stream never make it
// rebuild.
func TestRevocationsDuringAStreamCheckDoNotRebuild(t *testing.T) {
	e := newEnv(t)
	s := startSub(t, e, Config{HeartbeatInterval: time.Millisecond, MaxStaleness: time.Minute}, nil)
	waitReady(t, s)
	ctx := context.Background()
	for i := 0; i < 400; i++ {
		ev := revokeToken(fmt.Sprint("race-", i))
		b, _ := ev.Encode()
		if _, err := e.js.Publish(ctx, ev.Subject(), b, jetstream.WithMsgTTL(events.MsgTTL(ev.ExpiresAt, time.Now()))); err != nil {
			t.Fatal(err)
		}
	}
	natstest.Eventually(t, 10*time.Second, "every revocation applied", func() bool { return s.applied.Load() >= 400 })
	if n := testutil.ToFloat64(s.m.rebuilds); n != 0 {
		t.Fatalf("the sidecar rebuilt %v times while revocations arrived", n)
	}
}
