package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/subscriber"
)

// readyz reports whether a sidecar's /readyz says ready (200).
func readyz(side string) bool {
	return tryDo("GET", side+"/readyz", "", "").code == 200
}

// vouch revokes tokens one after the other through Elasticsearch until n
// are stored, and checks after every 200 what each sidecar says at once: a
// sidecar whose /readyz is 200 must deny the token (401), and when the
// front answered without a timeout_exception (every ready sidecar
// confirmed), no sidecar may allow it (204). A 503 ("nothing was revoked",
// while the front counts a new ledger) is counted, anything else is an
// error. It returns the tokens stored.
func vouch(t *testing.T, front, prefix string, sides []*inSidecar, n int) []string {
	t.Helper()
	var stored []string
	confirmed, unavailable := 0, 0
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; len(stored) < n; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d stored within 30s", prefix, len(stored), n)
		}
		tok := fmt.Sprintf("%s-%d", prefix, i)
		r := formats[0].revoke(front, tok)
		if r.code == 503 {
			unavailable++
			continue
		}
		if r.code != 200 {
			t.Errorf("%s: %d %s", tok, r.code, r.body)
			continue
		}
		stored = append(stored, tok)
		exact := r.body == fmt.Sprintf(counts, 1, 0, 0)
		if exact {
			confirmed++
		}
		for _, sc := range sides {
			ready := readyz(sc.url)
			code, _ := checkHTTP(sc.url, tok)
			switch {
			case ready && code != 401:
				t.Errorf("%s: sidecar %s says ready and answers %d for a revocation the front answered 200 (%s)", tok, sc.id, code, r.body)
			case exact && code == 204:
				t.Errorf("%s: the front reported it confirmed, and sidecar %s allows it", tok, sc.id)
			}
		}
	}
	t.Logf("%s: %d answered 200, %d of them confirmed by every ready sidecar; %d answered 503", prefix, len(stored), confirmed, unavailable)
	return stored
}

// Seen: a sidecar followed a re-created stream from its old sequence and
// skipped its first revocations. Now the stream is deleted and re-created
// (as revocast init would, behind the front's back), and later the NATS
// server restarts on an empty store and a front with --manage-streams
// re-creates the streams: after every 200 for a revocation stored in the
// new stream, a sidecar whose /readyz says ready denies it, and the front
// never reports a revocation confirmed while a sidecar on the old stream
// could be the one confirming it. The sidecars' state from the lost stream
// goes with their rebuild (bringing those revocations back is the
// export/import tool's job); everything stored afterwards is denied.
func TestFaultStreamRecreatedNoSidecarVouchesForTheOldOne(t *testing.T) {
	dir := t.TempDir()
	port := natstest.FreePort(t)
	top := t
	ns := natstest.StartWith(t, natstest.Options{Port: port, StoreDir: dir})
	url := ns.ClientURL()
	sys := startFront(t, dialAs(t, url, natsauth.Front, ""))
	var sides []*inSidecar
	for _, id := range []string{"a", "b"} {
		// The default heartbeat: the tick that checks the stream is slow.
		sides = append(sides, startSidecar(t, dialAs(t, url, natsauth.Sidecar, id),
			subscriber.Config{ID: id, HeartbeatInterval: time.Second}))
	}
	sys.seenBy("a", "b")
	// Enough revocations that the old stream's watermarks are far past the
	// new stream's first sequences.
	before := vouch(t, sys.url, "before", sides, 30)
	if len(before) != 30 {
		t.Fatal("the revocations before the fault were not all stored")
	}

	t.Run("deleted and re-created", func(t *testing.T) {
		js, err := jetstream.New(dialAs(t, url, natsauth.Operator, ""))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		opts := events.StreamOptions{Name: events.DefaultStreamName, Replicas: 1, DuplicateWindow: 2 * time.Minute}
		if err := js.DeleteStream(ctx, events.DefaultStreamName); err != nil {
			t.Fatal(err)
		}
		if _, err := events.EnsureStream(ctx, js, opts); err != nil {
			t.Fatal(err)
		}
		after := vouch(t, sys.url, "recreated", sides, 20)
		for _, sc := range sides {
			waitFor(t, sc.id+" denies every revocation of the new stream", func() bool { return len(missing(sc.sub, after)) == 0 })
		}
	})

	t.Run("NATS restarted on an empty store", func(t *testing.T) {
		natstest.Stop(ns)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		// Stopped with the sidecars, not with this subtest.
		ns = natstest.StartWith(top, natstest.Options{Port: port, StoreDir: dir})
		after := vouch(t, sys.url, "emptied", sides, 20)
		for _, sc := range sides {
			waitFor(t, sc.id+" ready and denying every revocation of the new stream", func() bool {
				return readyz(sc.url) && len(missing(sc.sub, after)) == 0
			})
		}
	})
}
