package subscriber

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

func testItems(prefix string, n int) []events.TokenItem {
	items := make([]events.TokenItem, n)
	for i := range items {
		items[i] = events.TokenItem{Token: events.TokenKey(fmt.Sprint(prefix, i)), TokenType: events.AccessToken,
			ExpiresAt: time.Now().Add(time.Hour)}
	}
	return items
}

// A stream holding batches as earlier fronts stored them (JSON) and as
// fronts store them now (binary) replays into one sidecar that denies
// every token of both.
func TestJSONAndBinaryBatchesAreApplied(t *testing.T) {
	e := newEnv(t)
	e.appendJSON(t, events.NewTokenBatch("old", 0, testItems("json-", events.MaxBatch), time.Now()))
	bin := events.NewTokenBatch("new", 0, testItems("bin-", events.MaxBatch), time.Now())
	if b, err := bin.Encode(); err != nil || !events.IsBinary(b) {
		t.Fatalf("a batch is not stored binary: %v", err)
	}
	e.append(t, bin)
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	for _, p := range []string{"json-", "bin-"} {
		for i := 0; i < events.MaxBatch; i++ {
			if d := s.Check(fmt.Sprint(p, i)); d.Verdict != Revoked {
				t.Fatalf("%s%d: %+v", p, i, d)
			}
		}
	}
	if !s.healthy() {
		t.Fatal("unhealthy after reading both encodings")
	}
}

// A batch in a binary encoding newer than this sidecar reads makes it fail
// closed (unhealthy, every check unavailable under deny), as a batch of a
// newer schema does: it is never misread.
func TestNewerBinaryBatchFailsClosed(t *testing.T) {
	e := newEnv(t)
	ev := events.NewTokenBatch("req", 0, testItems("newer-", 3), time.Now())
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b[1] = events.BinaryVersion + 1
	if _, err := e.js.Publish(context.Background(), ev.Subject(), b); err != nil {
		t.Fatal(err)
	}
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	if s.healthy() || s.undecodable.Load() != 1 {
		t.Fatalf("healthy %v, %d undecodable, after a batch it cannot read", s.healthy(), s.undecodable.Load())
	}
	if d := s.Check("newer-0"); d.Verdict != Unavailable {
		t.Fatalf("a token of the unreadable batch: %+v", d)
	}
}

// Watermarks are coalesced: never two within watermarkInterval of each
// other, in increasing order, and the last sequence applied is announced
// even when it came within the interval of the previous watermark.
func TestWatermarksAreCoalescedAndTheLastArrives(t *testing.T) {
	e := newEnv(t)
	// A heartbeat interval longer than the test: no check of the stream
	// runs meanwhile (main's can mistake a message stored while it asks
	// for a lost one, and rebuild, under load).
	s := startSub(t, e, Config{ID: "coalesce", HeartbeatInterval: 20 * time.Second}, nil)
	waitReady(t, s)
	var mu sync.Mutex
	var seqs []uint64
	var last time.Time
	sub, err := e.nc.Subscribe(events.WatermarkSubject("coalesce"), func(m *nats.Msg) {
		w, err := events.DecodeWatermark(m.Data)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		seqs, last = append(seqs, w.Seq), time.Now()
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	const n = 300
	start := time.Now()
	var lastSeq uint64
	for i := 0; i < n; i++ { // one at a time, each applied alone or nearly
		ack, err := e.js.Publish(context.Background(), events.TokenSubject(events.TokenKey(fmt.Sprint("c-", i))),
			mustEncode(t, revokeToken(fmt.Sprint("c-", i))), jetstream.WithMsgTTL(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		lastSeq = ack.Sequence
	}
	natstest.Eventually(t, 10*time.Second, "the last sequence announced", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) > 0 && seqs[len(seqs)-1] == lastSeq
	})
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("watermark %d after %d: %v", seqs[i], seqs[i-1], seqs)
		}
	}
	// Every watermark of this test was sent after start and received by
	// last, at least watermarkInterval after the one before it.
	if most := int(last.Sub(start)/watermarkInterval) + 1; len(seqs) > most {
		t.Fatalf("%d watermarks in %s: more than one per %s", len(seqs), last.Sub(start), watermarkInterval)
	}
	t.Logf("%d events, %d watermarks in %s", n, len(seqs), last.Sub(start))
}

func mustEncode(t testing.TB, ev events.Event) []byte {
	t.Helper()
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
