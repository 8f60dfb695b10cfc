package natstest

import (
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Regions is a hub server and a leaf node server, each with JetStream in a
// domain of its own, the leaf connected to the hub through Link, a TCP
// proxy the test can cut and restore.
type Regions struct {
	Hub, Leaf             *server.Server
	HubDomain, LeafDomain string
	Link                  *Link
	hubLeafPort           int
}

// StartRegions starts a hub (JetStream domain "hub") and a leaf node
// (domain "leaf") on loopback, without authentication, the leaf soliciting
// the hub through a Link, and waits until the link is up. The hub does not
// advertise its leaf node URL, so the leaf only ever reconnects through the
// Link.
func StartRegions(t testing.TB) *Regions {
	t.Helper()
	r := &Regions{HubDomain: "hub", LeafDomain: "leaf", hubLeafPort: FreePort(t)}
	r.Hub = startNode(t, &server.Options{ServerName: "hub", JetStreamDomain: r.HubDomain,
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: r.hubLeafPort, NoAdvertise: true}})
	r.Link = NewLink(t, "127.0.0.1:"+strconv.Itoa(r.hubLeafPort))
	u, err := url.Parse("nats-leaf://" + r.Link.Addr())
	if err != nil {
		t.Fatal(err)
	}
	r.Leaf = startNode(t, &server.Options{ServerName: "leaf", JetStreamDomain: r.LeafDomain,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 250 * time.Millisecond,
			Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}}})
	r.WaitLinked(t)
	return r
}

// WaitLinked waits until the leaf is connected to the hub.
func (r *Regions) WaitLinked(t testing.TB) {
	t.Helper()
	Eventually(t, 20*time.Second, "the leaf node connected to the hub", func() bool { return r.Hub.NumLeafNodes() == 1 })
}

// WaitCut waits until the hub has no leaf node.
func (r *Regions) WaitCut(t testing.TB) {
	t.Helper()
	Eventually(t, 20*time.Second, "the leaf node cut off from the hub", func() bool { return r.Hub.NumLeafNodes() == 0 })
}

func startNode(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	o.Host, o.Port, o.JetStream, o.StoreDir, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, t.TempDir(), true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("natstest: %s: %v", o.ServerName, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("natstest: %s not ready within 10s", o.ServerName)
	}
	t.Cleanup(func() { Stop(s) })
	return s
}

// Link is a TCP proxy on loopback: while cut, it closes what it carries
// and every new connection at once, as a network partition that refuses
// connections would.
type Link struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewLink forwards connections to target until the test ends.
func NewLink(t testing.TB, target string) *Link {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: link: %v", err)
	}
	k := &Link{l: l, target: target, conns: make(map[net.Conn]struct{})}
	k.wg.Add(1)
	go k.serve()
	t.Cleanup(func() {
		l.Close()
		k.Cut()
		k.wg.Wait()
	})
	return k
}

// Addr is the address to connect to instead of the target.
func (k *Link) Addr() string { return k.l.Addr().String() }

// Cut closes every connection and refuses new ones until Restore.
func (k *Link) Cut() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cut = true
	for c := range k.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (k *Link) Restore() {
	k.mu.Lock()
	k.cut = false
	k.mu.Unlock()
}

func (k *Link) serve() {
	defer k.wg.Done()
	for {
		c, err := k.l.Accept()
		if err != nil {
			return
		}
		k.mu.Lock()
		if k.cut {
			k.mu.Unlock()
			c.Close()
			continue
		}
		k.mu.Unlock()
		u, err := net.DialTimeout("tcp", k.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		k.mu.Lock()
		if k.cut { // cut while dialing
			k.mu.Unlock()
			c.Close()
			u.Close()
			continue
		}
		k.conns[c], k.conns[u] = struct{}{}, struct{}{}
		k.mu.Unlock()
		k.wg.Add(2)
		go k.pipe(u, c)
		go k.pipe(c, u)
	}
}

// pipe copies from src to dst until either ends, then closes both.
func (k *Link) pipe(dst, src net.Conn) {
	defer k.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	k.mu.Lock()
	delete(k.conns, dst)
	delete(k.conns, src)
	k.mu.Unlock()
}
