package events

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/internal/natstest"
)

// publishTTL stores data on subject with a per-message TTL, as the front does.
func publishTTL(t *testing.T, js jetstream.JetStream, subject string, ttl time.Duration) uint64 {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(`{}`)
	m.Header.Set(jetstream.MsgTTLHeader, ttl.String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
	return ack.Sequence
}

func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return st.CachedInfo()
}

// What a leaf region's copy of the stream must do, measured on the
// embedded nats-server: keep the origin's sequences (a watermark means the
// same in both regions), keep only the latest message per subject, and
// expire messages at their per-message TTL by itself, which it does only
// when it allows per-message TTLs (a mirror without it keeps an expired
// revocation forever). Cut off, it reports a growing Active time and no
// error; reconnected, it catches up.
func TestMirrorKeepsSequencesTTLAndLatest(t *testing.T) {
	r := natstest.StartRegions(t)
	hub, err := jetstream.New(natstest.Connect(t, r.Hub))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := jetstream.New(natstest.Connect(t, r.Leaf))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := EnsureStream(ctx, hub, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	short := publishTTL(t, hub, TokenSubject(TokenKey("short")), 2*time.Second)
	publishTTL(t, hub, TokenSubject(TokenKey("twice")), time.Hour)
	last := publishTTL(t, hub, TokenSubject(TokenKey("twice")), time.Hour)

	if _, _, err := EnsureMirror(ctx, leaf, hub, r.HubDomain, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	// The control: the same mirror without per-message TTLs, under another name.
	noTTL := StreamOptions{}.MirrorConfig(r.HubDomain, time.Now())
	noTTL.Name, noTTL.AllowMsgTTL = "NO_TTL", false
	noTTL.Mirror.Name = DefaultStreamName
	if _, err := leaf.CreateStream(ctx, noTTL); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, "the mirror holding the origin's last sequence", func() bool {
		return streamInfo(t, leaf, DefaultStreamName).State.LastSeq == last
	})
	mst, err := leaf.Stream(ctx, DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := mst.GetLastMsgForSubject(ctx, TokenSubject(TokenKey("twice"))); err != nil || m.Sequence != last {
		t.Fatalf("the latest message of a subject on the mirror: %v, err %v; want sequence %d", m, err, last)
	}
	natstest.Eventually(t, 10*time.Second, "the 2 s revocation expiring on the mirror", func() bool {
		st := streamInfo(t, leaf, DefaultStreamName).State
		return st.Msgs == 1 && st.FirstSeq == last
	})
	natstest.Eventually(t, 10*time.Second, "the control mirror", func() bool { return streamInfo(t, leaf, "NO_TTL").State.LastSeq == last })
	if st := streamInfo(t, leaf, "NO_TTL").State; st.Msgs != 2 || st.FirstSeq != short {
		t.Fatalf("a mirror without AllowMsgTTL: %d messages from %d; want the expired one (seq %d) kept", st.Msgs, st.FirstSeq, short)
	}

	r.Link.Cut()
	r.WaitCut(t)
	during := publishTTL(t, hub, TokenSubject(TokenKey("during the cut")), time.Hour)
	natstest.Eventually(t, 20*time.Second, "the cut-off mirror's Active time passing 3s", func() bool {
		m := streamInfo(t, leaf, DefaultStreamName).Mirror
		return m != nil && m.Active > 3*time.Second
	})
	if i := streamInfo(t, leaf, DefaultStreamName); i.State.LastSeq != last || i.Mirror.Error != nil || i.Mirror.Lag != 0 {
		t.Fatalf("cut off: last sequence %d, error %v, lag %d; want %d, no error, lag 0 (only Active tells)",
			i.State.LastSeq, i.Mirror.Error, i.Mirror.Lag, last)
	}
	r.Link.Restore()
	natstest.Eventually(t, 30*time.Second, "the mirror catching up after the link is back", func() bool {
		return streamInfo(t, leaf, DefaultStreamName).State.LastSeq == during
	})
}

// A mirror never notices that its origin was deleted and re-created: it
// waits for sequences after its last and gets nothing new. EnsureMirror
// sees the recorded origin is another and re-creates the mirror, which then
// holds the new origin's revocations from sequence 1.
func TestEnsureMirrorRecreatesAMirrorOfAnOlderOrigin(t *testing.T) {
	r := natstest.StartRegions(t)
	hub, err := jetstream.New(natstest.Connect(t, r.Hub))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := jetstream.New(natstest.Connect(t, r.Leaf))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := EnsureStream(ctx, hub, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"a", "b", "c"} {
		publishTTL(t, hub, TokenSubject(TokenKey(tok)), time.Hour)
	}
	if _, recreated, err := EnsureMirror(ctx, leaf, hub, r.HubDomain, StreamOptions{}); err != nil || recreated {
		t.Fatalf("first EnsureMirror: recreated %t, %v", recreated, err)
	}
	natstest.Eventually(t, 10*time.Second, "the mirror", func() bool { return streamInfo(t, leaf, DefaultStreamName).State.LastSeq == 3 })
	first := streamInfo(t, leaf, DefaultStreamName).Created
	if _, recreated, err := EnsureMirror(ctx, leaf, hub, r.HubDomain, StreamOptions{}); err != nil || recreated {
		t.Fatalf("EnsureMirror again, same origin: recreated %t, %v", recreated, err)
	}
	if got := streamInfo(t, leaf, DefaultStreamName).Created; !got.Equal(first) {
		t.Fatalf("the same origin's mirror was re-created (%s, was %s)", got, first)
	}

	if err := hub.DeleteStream(ctx, DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureStream(ctx, hub, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := publishTTL(t, hub, TokenSubject(TokenKey("after the disaster")), time.Hour)
	natstest.Eventually(t, 20*time.Second, "the stale mirror's Active time passing 3s", func() bool {
		m := streamInfo(t, leaf, DefaultStreamName).Mirror
		return m != nil && m.Active > 3*time.Second
	})
	if i := streamInfo(t, leaf, DefaultStreamName); i.State.LastSeq != 3 {
		t.Fatalf("the old mirror's last sequence is %d after the origin was re-created; the test assumed it stalls at 3", i.State.LastSeq)
	}

	if _, recreated, err := EnsureMirror(ctx, leaf, hub, r.HubDomain, StreamOptions{}); err != nil || !recreated {
		t.Fatalf("EnsureMirror after the origin was re-created: recreated %t, %v", recreated, err)
	}
	natstest.Eventually(t, 10*time.Second, "the new mirror holding the new origin's revocation", func() bool {
		st := streamInfo(t, leaf, DefaultStreamName).State
		return st.LastSeq == fresh && st.Msgs == 1
	})
	origin, err := MirrorOrigin(streamInfo(t, leaf, DefaultStreamName).Config)
	if want := streamInfo(t, hub, DefaultStreamName).Created; err != nil || !origin.Equal(want) {
		t.Fatalf("recorded origin %s (%v), want the new origin's creation %s", origin, err, want)
	}
}
