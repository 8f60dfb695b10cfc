package natstest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a plain JetStream cluster in this process (no TLS, no
// authentication) on loopback, whose nodes can be stopped and restarted
// on the same ports with the same store.
type Cluster struct {
	t    testing.TB
	opts []*server.Options

	mu      sync.Mutex
	servers []*server.Server
}

// StartPlainCluster starts n nodes named n1..nN and waits for a JetStream
// meta leader. Every node is stopped when the test ends.
func StartPlainCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, servers: make([]*server.Server, n)}
	clusterPorts := make([]string, n)
	for i := range n {
		clusterPorts[i] = "nats-route://127.0.0.1:" + strconv.Itoa(FreePort(t))
	}
	for i := range n {
		cp, _ := strconv.Atoi(clusterPorts[i][strings.LastIndex(clusterPorts[i], ":")+1:])
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       FreePort(t),
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "revocast", Host: "127.0.0.1", Port: cp},
			Routes:     server.RoutesFromStr(strings.Join(clusterPorts, ",")),
		})
	}
	for i := range n {
		c.boot(i)
	}
	t.Cleanup(func() {
		for i := range n {
			c.Stop(i)
		}
	})
	c.WaitMetaLeader(30 * time.Second)
	return c
}

func (c *Cluster) boot(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.opts[i].Clone())
	if err != nil {
		c.t.Fatalf("natstest: node %d: %v", i+1, err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("natstest: node %d not ready within 20s", i+1)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
}

// URLs is every node's client URL, comma-separated.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.opts))
	for i, o := range c.opts {
		urls[i] = "nats://127.0.0.1:" + strconv.Itoa(o.Port)
	}
	return strings.Join(urls, ",")
}

// Server returns node i (0-based) as it runs now.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Index returns the node named name, or -1.
func (c *Cluster) Index(name string) int {
	for i, o := range c.opts {
		if o.ServerName == name {
			return i
		}
	}
	return -1
}

// Stop shuts node i down (a no-op when it is down).
func (c *Cluster) Stop(i int) {
	if s := c.Server(i); s != nil {
		Stop(s)
	}
}

// Restart starts node i again on its ports with its store.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.boot(i)
}

// WaitMetaLeader waits until JetStream answers through node 1 (or any
// running node).
func (c *Cluster) WaitMetaLeader(timeout time.Duration) {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		c.t.Fatalf("natstest: connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	Eventually(c.t, timeout, "JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
}
