package natstest

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options for Start.
type Options struct {
	Port     int    // 0: a random free port
	StoreDir string // "": a fresh temporary directory
}

// Start starts a JetStream-enabled server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB) *server.Server { return StartWith(t, Options{}) }

// StartWith starts a server with o.
func StartWith(t testing.TB, o Options) *server.Server {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	port := o.Port
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("natstest: server not ready within 10s")
	}
	t.Cleanup(func() { Stop(s) })
	return s
}

// Stop shuts a server down and waits until it is gone.
func Stop(s *server.Server) {
	if s.Running() {
		s.Shutdown()
	}
	s.WaitForShutdown()
}

// Connect returns a client connection closed when the test ends.
func Connect(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on a new connection.
func JetStream(t testing.TB, s *server.Server) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(Connect(t, s))
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return js
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// is picked below the kernel's ephemeral range when it can be: a port the
// kernel hands out (to a listener on port 0 or as an outgoing connection's
// local port) can be taken again between this check and the caller's
// listen, which made a cluster node fail to start now and then.
func FreePort(t testing.TB) int {
	t.Helper()
	if lo := ephemeralLow(); lo > 20000 {
		for range 200 {
			p := 10000 + rand.IntN(lo-10000)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				l.Close()
				return p
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// ephemeralLow returns the first port of Linux's ephemeral range, or 0.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// Eventually polls cond every 5ms until it is true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// ClusterOptions for StartClusterWith.
type ClusterOptions struct {
	// Connect are the options of the connection that waits for the
	// JetStream meta leader (credentials, the CA): it needs $JS.API.INFO.
	Connect []nats.Option
}

// StartCluster boots the 3-node cluster described by the given nats-server
// config files, rewritten for one test process: loopback, free ports,
// temporary store directories; TLS and authentication stay as configured.
// It waits until JetStream has a meta leader and returns the servers.
func StartCluster(t testing.TB, confs []string) []*server.Server {
	t.Helper()
	return StartClusterWith(t, confs, ClusterOptions{})
}

// StartClusterWith is StartCluster with options.
func StartClusterWith(t testing.TB, confs []string, co ClusterOptions) []*server.Server {
	t.Helper()
	ports := make([]int, len(confs))
	routes := ""
	for i := range confs {
		ports[i] = FreePort(t)
		if i > 0 {
			routes += ","
		}
		routes += "nats-route://127.0.0.1:" + strconv.Itoa(ports[i])
	}
	var servers []*server.Server
	logs := make([]*serverLog, len(confs))
	for i, conf := range confs {
		o, err := server.ProcessConfigFile(conf)
		if err != nil {
			t.Fatalf("natstest: %s: %v", conf, err)
		}
		o.Host, o.Port, o.HTTPPort = "127.0.0.1", -1, 0
		o.StoreDir = t.TempDir()
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", ports[i]
		o.Routes = server.RoutesFromStr(routes)
		o.NoLog, o.NoSigs = true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("natstest: %s: %v", conf, err)
		}
		logs[i] = &serverLog{}
		s.SetLogger(logs[i], false, false)
		go s.Start()
		servers = append(servers, s)
		t.Cleanup(func() { Stop(s) })
	}
	for i, s := range servers {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("natstest: cluster node %s not ready (client port %v, cluster port %d); its warnings and errors:\n%s",
				confs[i], s.Addr(), ports[i], logs[i])
		}
	}
	nc, err := nats.Connect(servers[0].ClientURL(), co.Connect...)
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	Eventually(t, 30*time.Second, "JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return servers
}
