package deployments_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/revocast/revocast/internal/natsauth"
)

// helm/nats-values.yaml, given to the official nats chart (a copy in
// testdata/nats-chart) with an auth.conf from nats-init as the README says
// (--set-file), renders objects that decode strictly; nats-server itself
// loads the configuration it renders (with the certificate paths pointed at
// test certificates) into a server: operator mode with revocast's trust,
// JetStream, TLS for clients, mutual TLS on the routes of 3 nodes.
func TestNATSValues(t *testing.T) {
	dir := t.TempDir()
	trust, _, err := natsauth.Init(filepath.Join(dir, "trust"))
	if err != nil {
		t.Fatal(err)
	}
	authConf := readFile(t, filepath.Join(dir, "trust", natsauth.AuthConfFile))
	c, err := loader.Load("testdata/nats-chart")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ReadValues([]byte(readFile(t, "helm/nats-values.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	vals["configMap"] = map[string]any{"merge": map[string]any{"data": map[string]any{"auth.conf": authConf}}}
	manifest, err := renderChart(c, "nats", vals)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(manifest)
	if err != nil {
		t.Fatalf("%v\n%s", err, manifest)
	}
	var conf map[string]string
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *corev1.ConfigMap:
			conf = v.Data
		case *appsv1.StatefulSet:
			if *v.Spec.Replicas != 3 {
				t.Errorf("StatefulSet %s: %d replicas", v.Name, *v.Spec.Replicas)
			}
		case *corev1.Service:
			for _, p := range v.Spec.Ports {
				if p.Name == "monitor" && v.Spec.ClusterIP != "None" {
					t.Errorf("Service %s exposes the monitoring port", v.Name)
				}
			}
		}
	}
	if conf["auth.conf"] != authConf || conf["nats.conf"] == "" {
		t.Fatalf("ConfigMap data: %v", conf)
	}

	// The pod's files: certificates where the Secrets are mounted, the
	// JetStream directory on the volume.
	ca, cert, key := testCertificates(t, dir)
	text := conf["nats.conf"]
	for from, to := range map[string]string{
		"/etc/nats-certs/nats/tls.crt": cert, "/etc/nats-certs/nats/tls.key": key,
		"/etc/nats-certs/cluster/tls.crt": cert, "/etc/nats-certs/cluster/tls.key": key,
		"/etc/nats-ca-cert/ca.crt": ca, `"store_dir": "/data"`: `"store_dir": "` + filepath.Join(dir, "js") + `"`,
	} {
		if !strings.Contains(text, from) {
			t.Errorf("nats.conf does not name %s:\n%s", from, text)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	for name, data := range map[string]string{"nats.conf": text, "auth.conf": authConf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SERVER_NAME", "nats-0")
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats.conf"))
	if err != nil {
		t.Fatalf("nats-server refuses the configuration: %v\n%s", err, text)
	}
	if len(opts.TrustedOperators) != 1 || opts.SystemAccount == "" || opts.AccountResolver == nil {
		t.Errorf("not operator mode: operators %d, system account %q", len(opts.TrustedOperators), opts.SystemAccount)
	}
	if !opts.JetStream || opts.TLSConfig == nil || opts.Cluster.TLSConfig == nil ||
		opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("JetStream %v, client TLS %v, route TLS %v", opts.JetStream, opts.TLSConfig != nil, opts.Cluster.TLSConfig)
	}
	if len(opts.Routes) != 3 || opts.Routes[0].Scheme != "tls" {
		t.Errorf("routes %v", opts.Routes)
	}
	s, err := server.NewServer(opts) // validates the options and loads the preloaded accounts, as a start would
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	defer s.Shutdown()
	if _, err := s.AccountResolver().Fetch(trust.Account()); err != nil {
		t.Errorf("the REVOCAST account is not preloaded: %v", err)
	}
}

// testCertificates writes a CA and a certificate it signed; it returns the
// three files' paths.
func testCertificates(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		DNSNames: []string{"nats", "*.nats-headless"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caTmpl, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}
