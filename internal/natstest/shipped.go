package natstest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ShippedOptions for StartShipped.
type ShippedOptions struct {
	// DeployDir holds the shipped node-*.conf and make-certs.sh
	// (deployments/nats, relative to the test's package).
	DeployDir string
	// AuthConf becomes auth.conf next to the node configurations, which
	// include it: what "revocast nats-init" wrote. Empty: an empty file, so
	// the cluster accepts clients without credentials (for tests of
	// components not yet connecting with identities).
	AuthConf []byte
	// Connect are the options (credentials) of the connection that waits
	// for the JetStream meta leader; it needs $JS.API.INFO.
	Connect []nats.Option
}

// Shipped is the shipped cluster configuration running in this process.
type Shipped struct {
	Dir     string // the copies of the node configurations, auth.conf, certs/
	CA      string // certs/ca.pem, which clients verify the servers with
	Servers []*server.Server
}

// StartShipped copies the shipped node configurations and make-certs.sh
// into a temporary directory, runs make-certs.sh there, writes auth.conf,
// and boots the three nodes from those files (StartClusterWith rewrites
// only addresses and store directories) with the test's working directory
// in that directory, as the configurations' relative certificate paths
// expect. The test must not be parallel. make-certs.sh needs openssl: the
// test is skipped without it, unless REVOCAST_REQUIRE_OPENSSL=1 (CI).
func StartShipped(t testing.TB, o ShippedOptions) *Shipped {
	t.Helper()
	RequireProgram(t, "openssl", "REVOCAST_REQUIRE_OPENSSL")
	confs, _ := filepath.Glob(filepath.Join(o.DeployDir, "node-*.conf"))
	if len(confs) != 3 {
		t.Fatalf("natstest: want the 3 shipped node configurations in %s, found %v", o.DeployDir, confs)
	}
	dir := t.TempDir()
	var copies []string
	for _, f := range append(confs, filepath.Join(o.DeployDir, "make-certs.sh")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("natstest: %v", err)
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, b, 0o700); err != nil {
			t.Fatalf("natstest: %v", err)
		}
		if filepath.Ext(f) == ".conf" {
			copies = append(copies, dst)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), o.AuthConf, 0o600); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(dir, "make-certs.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("natstest: make-certs.sh: %v\n%s", err, out)
	}
	t.Chdir(dir)
	s := &Shipped{Dir: dir, CA: filepath.Join(dir, "certs", "ca.pem")}
	s.Servers = StartClusterWith(t, copies, ClusterOptions{
		Connect: append([]nats.Option{nats.RootCAs(s.CA)}, o.Connect...),
	})
	return s
}

// Dial connects to node i over TLS, verifying it with the cluster's CA.
func (s *Shipped) Dial(i int, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect(s.Servers[i].ClientURL(), append([]nats.Option{nats.RootCAs(s.CA)}, opts...)...)
}

// Connect is Dial that fails the test on error and closes the connection
// when the test ends.
func (s *Shipped) Connect(t testing.TB, i int, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := s.Dial(i, opts...)
	if err != nil {
		t.Fatalf("natstest: connect to node %d: %v", i, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// RequireProgram skips the test when prog is not installed, or fails it
// when the environment variable require is "1" (as .ci/run sets it).
func RequireProgram(t testing.TB, prog, require string) {
	t.Helper()
	if _, err := exec.LookPath(prog); err != nil {
		if os.Getenv(require) == "1" {
			t.Fatalf("%s is not installed (%s=1)", prog, require)
		}
		t.Skipf("%s is not installed (set %s=1 to make this a failure)", prog, require)
	}
}
