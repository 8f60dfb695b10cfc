package faultproxy_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/revocast/revocast/internal/faultproxy"
	"github.com/revocast/revocast/internal/natstest"
)

// proxied starts a server, a proxy to it and a client through the proxy
// whose replies arrive under _INBOX_client.
func proxied(t *testing.T) (*faultproxy.Proxy, *nats.Conn, *nats.Conn, *atomic.Int64) {
	t.Helper()
	ns := natstest.Start(t)
	p, err := faultproxy.Start(ns.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	var reconnects atomic.Int64
	nc, err := nats.Connect(p.URL(), nats.CustomInboxPrefix("_INBOX_client"), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.Timeout(500*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnects.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	direct := natstest.Connect(t, ns)
	// A responder that answers with a header, so replies are HMSG frames.
	if _, err := direct.Subscribe("echo", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("X-Echo", "1")
		r.Data = m.Data
		_ = direct.PublishMsg(r)
	}); err != nil {
		t.Fatal(err)
	}
	if err := direct.Flush(); err != nil {
		t.Fatal(err)
	}
	return p, nc, direct, &reconnects
}

func echo(nc *nats.Conn, timeout time.Duration) error {
	m, err := nc.Request("echo", []byte("ping"), timeout)
	if err == nil && (string(m.Data) != "ping" || m.Header.Get("X-Echo") != "1") {
		return errors.New("a mangled reply")
	}
	return err
}

// A drop window loses exactly the replies under the prefix while the
// connection stays up; plain messages keep flowing, and afterwards replies
// arrive again.
func TestDropWindowLosesOnlyThePrefix(t *testing.T) {
	p, nc, direct, reconnects := proxied(t)
	if err := echo(nc, 2*time.Second); err != nil {
		t.Fatalf("before: %v", err)
	}
	got := make(chan *nats.Msg, 10)
	if _, err := nc.ChanSubscribe("plain.>", got); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p.DropFor("_INBOX_client", 400*time.Millisecond)
	if err := echo(nc, 100*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("a reply during the window: %v", err)
	}
	if err := direct.Publish("plain.x", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Data) != "kept" {
			t.Fatalf("plain message %q", m.Data)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a message outside the prefix was lost")
	}
	natstest.Eventually(t, 3*time.Second, "replies after the window", func() bool { return echo(nc, 200*time.Millisecond) == nil })
	if p.Dropped() == 0 || reconnects.Load() != 0 || !nc.IsConnected() {
		t.Fatalf("dropped %d, reconnects %d, connected %v", p.Dropped(), reconnects.Load(), nc.IsConnected())
	}
}

// A cut makes the client reconnect; a black hole keeps it from getting
// anywhere until the proxy is restored.
func TestCutBlackholeRestore(t *testing.T) {
	p, nc, _, reconnects := proxied(t)
	p.Cut()
	natstest.Eventually(t, 5*time.Second, "reconnected after a cut", func() bool { return reconnects.Load() == 1 && echo(nc, time.Second) == nil })
	p.Blackhole()
	p.Cut()
	if err := echo(nc, 300*time.Millisecond); err == nil {
		t.Fatal("a request passed a black hole")
	}
	if nc.IsConnected() || p.Connections() != 2 {
		t.Fatalf("connected %v through a black hole (%d relayed)", nc.IsConnected(), p.Connections())
	}
	p.Restore()
	natstest.Eventually(t, 5*time.Second, "reconnected after restore", func() bool { return echo(nc, time.Second) == nil })
	if reconnects.Load() != 2 {
		t.Fatalf("%d reconnects, want 2", reconnects.Load())
	}
}
