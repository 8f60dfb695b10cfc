package natsauth_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// routeHandshake dials node 0's cluster port as a peer would: TLS first,
// verifying the server with the cluster's CA and presenting certs (none,
// or another CA's); it returns the error of reading the server's INFO,
// which is where the server's refusal of the certificate arrives.
func routeHandshake(t *testing.T, e *env, certs []tls.Certificate) error {
	t.Helper()
	ca, err := os.ReadFile(e.cl.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	conn, err := net.DialTimeout("tcp", e.cl.Servers[0].ClusterAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: certs, MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		return err
	}
	info, err := bufio.NewReader(tc).ReadString('\n')
	if err == nil && !strings.HasPrefix(info, "INFO ") {
		t.Fatalf("route said %q", info)
	}
	return err
}

// Routes require a certificate of the cluster's CA: a would-be peer
// without one, or with another CA's, is refused during the TLS handshake.
func testRoutes(t *testing.T, e *env) {
	t.Run("a peer with the cluster's certificate is answered", func(t *testing.T) {
		peer, err := tls.LoadX509KeyPair(filepath.Join(e.cl.Dir, "certs", "nats-2.pem"), filepath.Join(e.cl.Dir, "certs", "nats-2-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if err := routeHandshake(t, e, []tls.Certificate{peer}); err != nil {
			t.Fatalf("a legitimate peer: %v", err)
		}
	})
	t.Run("a route without a certificate is refused", func(t *testing.T) {
		err := routeHandshake(t, e, nil)
		if err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Fatalf("err = %v, want the server to require a certificate", err)
		}
	})
	t.Run("a route with another CA's certificate is refused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "rogue")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "bash", filepath.Join(e.cl.Dir, "make-certs.sh"), dir).CombinedOutput(); err != nil {
			t.Fatalf("make-certs.sh: %v\n%s", err, out)
		}
		rogue, err := tls.LoadX509KeyPair(filepath.Join(dir, "nats-1.pem"), filepath.Join(dir, "nats-1-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		err = routeHandshake(t, e, []tls.Certificate{rogue})
		if err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
			t.Fatalf("err = %v, want the server to refuse an unknown authority", err)
		}
	})
}
