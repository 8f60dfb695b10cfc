package main

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// devTLS is "revocast dev" with --tls-cert, --tls-key, --tls-client-ca and
// --grpc-addr, on free ports.
type devTLS struct {
	*proc
	front, side, grpc string // https://host:port for the HTTP servers, host:port for gRPC
}

func startDevTLS(t *testing.T, f tlsFiles) *devTLS {
	t.Helper()
	p := start(t, []string{"REVOCAST_DEV_CLIENT=" + testID + ":" + testSecret}, "dev", "--data-dir", t.TempDir(),
		"--publisher-addr", "127.0.0.1:0", "--subscriber-addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--grpc-addr", "127.0.0.1:0", "--tls-cert", f.cert, "--tls-key", f.key, "--tls-client-ca", f.clientCA)
	return &devTLS{proc: p,
		front: "https://" + p.waitLog("listening", map[string]string{"component": "publisher", "tls": "true"}, "addr"),
		side:  "https://" + p.waitLog("listening", map[string]string{"component": "subscriber", "tls": "true"}, "addr"),
		grpc:  p.waitLog("listening", map[string]string{"component": "grpc", "tls": "true", "mutual_tls": "true"}, "addr"),
	}
}

// Both HTTP servers and the gRPC port serve TLS from the files; the sidecar
// checks only for clients with a certificate from --tls-client-ca.
func TestE2ETLSAndMutualTLS(t *testing.T) {
	ca := newTestCA(t, "revocast test CA")
	clientPair := ca.issue(t, "orders-api", false)
	stranger := newTestCA(t, "another CA").issue(t, "stranger", false)
	d := startDevTLS(t, writeTLSFiles(t, ca, ca.issue(t, "revocast", true)))

	anon := httpsClient(ca, nil)
	withCert := httpsClient(ca, &clientPair.tls)
	waitFor(t, "sidecar ready over HTTPS", func() bool { return httpDoWith(t, anon, "GET", d.side+"/readyz", "", "").code == 200 })
	r := httpDoWith(t, anon, "DELETE", d.front+"/_security/oauth2/token", "application/json", `{"token":"tls-token"}`,
		"Authorization", testBasic)
	if r.code != 200 || !strings.Contains(r.body, `"invalidated_tokens":1`) {
		t.Fatalf("revoke over HTTPS: %d %s", r.code, r.body)
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	if r := httpDoWith(t, withCert, "GET", d.side+"/v1/check", "", "", bearer("tls-token")...); r.code != 401 {
		t.Errorf("revoked token, client certificate: %d %s", r.code, r.body)
	}
	if r := httpDoWith(t, withCert, "GET", d.side+"/v1/check", "", "", bearer("fine-token")...); r.code != 204 {
		t.Errorf("valid token, client certificate: %d %s", r.code, r.body)
	}
	// Without a client certificate: refused; the probes still answer.
	if r := httpDoWith(t, anon, "GET", d.side+"/v1/check", "", "", bearer("fine-token")...); r.code != 403 ||
		!strings.Contains(r.body, "client certificate") {
		t.Errorf("check without a client certificate: %d %s, want 403", r.code, r.body)
	}
	if r := httpDoWith(t, anon, "POST", d.side+"/v1/check", "application/json", `{"token":"tls-token"}`); r.code != 403 {
		t.Errorf("POST check without a client certificate: %d, want 403", r.code)
	}
	if r := httpDoWith(t, anon, "GET", d.side+"/readyz", "", ""); r.code != 200 {
		t.Errorf("/readyz without a client certificate: %d, want 200", r.code)
	}
	// A certificate from another CA fails the handshake. (Sent on purpose:
	// crypto/tls would only offer a certificate from a CA the server names.)
	rogue := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &stranger.tls, nil }}}}
	if resp, err := rogue.Get(d.side + "/v1/check"); err == nil {
		resp.Body.Close()
		t.Errorf("a client certificate from another CA was accepted: %d", resp.StatusCode)
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client certificate from another CA: %v", err)
	}
	// Plain HTTP on a TLS port gets no answer from revocast.
	for _, u := range []string{d.front, d.side} {
		plain := "http://" + strings.TrimPrefix(u, "https://")
		if r := httpDo(t, "GET", plain+"/readyz", "", ""); r.code != 400 || !strings.Contains(r.body, "HTTPS server") {
			t.Errorf("plain HTTP to %s: %d %q", plain, r.code, r.body)
		}
	}
	// TLS 1.1 is refused.
	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: ca.pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(d.front + "/healthz"); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 client: %v, want a protocol version alert", err)
	}

	// gRPC over TLS: a client certificate is needed for checks, not for health.
	c, h := dialGRPC(t, d.grpc, credentials.NewTLS(&tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{clientPair.tls}}))
	if got := answer(grpcAsk(c, "tls-token")); got != grpcRevoked {
		t.Errorf("gRPC with a client certificate: %s, want %s", got, grpcRevoked)
	}
	anonC, anonH := dialGRPC(t, d.grpc, credentials.NewTLS(&tls.Config{RootCAs: ca.pool()}))
	if _, err := grpcAsk(anonC, "tls-token"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC without a client certificate: %v, want Unauthenticated", err)
	}
	for _, hc := range []healthpb.HealthClient{h, anonH} {
		if s := grpcServing(hc); s != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("gRPC health over TLS: %s", s)
		}
	}
}

// Replaced certificate files are served without a restart; a broken
// replacement is logged and the last good pair kept.
func TestE2ETLSCertificateReload(t *testing.T) {
	ca := newTestCA(t, "revocast test CA")
	first := ca.issue(t, "revocast", true)
	f := writeTLSFiles(t, ca, first)
	d := startDevTLS(t, f)
	addrs := map[string][]string{ // address → ALPN (gRPC needs h2)
		strings.TrimPrefix(d.front, "https://"): nil,
		strings.TrimPrefix(d.side, "https://"):  nil,
		d.grpc:                                  {"h2"},
	}
	for a, alpn := range addrs {
		if s, err := servedSerial(ca, a, alpn...); err != nil || s.Cmp(first.serial) != 0 {
			t.Fatalf("%s serves %v (%v), want the first certificate", a, s, err)
		}
	}
	second := ca.issue(t, "revocast", true)
	writeFileAtomic(t, f.key, second.keyPEM) // a moment with a mismatched pair: kept out
	writeFileAtomic(t, f.cert, second.certPEM)
	for a, alpn := range addrs {
		waitFor(t, a+" serving the new certificate", func() bool {
			s, err := servedSerial(ca, a, alpn...)
			return err == nil && s.Cmp(second.serial) == 0
		})
	}
	const broken = "TLS certificate files changed but do not load: keeping the current certificate"
	before := d.count(broken) // the mismatched moment above may have been seen
	writeFileAtomic(t, f.cert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	waitFor(t, "the broken pair to be logged", func() bool {
		_, _ = servedSerial(ca, strings.TrimPrefix(d.side, "https://")) // a handshake looks at the files
		return d.count(broken) > before
	})
	for a, alpn := range addrs {
		if s, err := servedSerial(ca, a, alpn...); err != nil || s.Cmp(second.serial) != 0 {
			t.Errorf("%s after a broken replacement: %v (%v), want the second certificate", a, s, err)
		}
	}
}

// The publisher and subscriber commands take the same flags; a half-given
// pair, a client CA without a pair, or files that do not load are refused at
// start (exit 2).
func TestE2ETLSStandaloneCommands(t *testing.T) {
	ca := newTestCA(t, "revocast test CA")
	f := writeTLSFiles(t, ca, ca.issue(t, "revocast", true))
	clientPair := ca.issue(t, "orders-api", false)
	d := startDev(t, t.TempDir(), nil)
	pub := start(t, nil, "publisher", "--publisher-addr", "127.0.0.1:0", "--nats-url", d.nats, "--config", writeConfig(t, ""),
		"--tls-cert", f.cert, "--tls-key", f.key, "--nats-creds", d.frontCreds())
	sub := start(t, nil, "subscriber", "--id", "tls-side", "--subscriber-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
		"--nats-url", d.nats, "--tls-cert", f.cert, "--tls-key", f.key, "--tls-client-ca", f.clientCA,
		"--nats-creds", d.sidecarCreds(t, "tls-side"))
	front := "https://" + pub.waitLog("listening", map[string]string{"component": "publisher", "tls": "true"}, "addr")
	side := "https://" + sub.waitLog("listening", map[string]string{"component": "subscriber", "tls": "true"}, "addr")
	grpcAddr := sub.waitLog("listening", map[string]string{"component": "grpc", "mutual_tls": "true"}, "addr")
	withCert := httpsClient(ca, &clientPair.tls)
	waitFor(t, "both ready", func() bool {
		return httpDoWith(t, withCert, "GET", side+"/readyz", "", "").code == 200 &&
			httpDoWith(t, withCert, "GET", front+"/readyz", "", "").code == 200
	})
	if r := httpDoWith(t, withCert, "DELETE", front+"/_security/oauth2/token", "application/json", `{"token":"standalone-tls"}`,
		"Authorization", testBasic); r.code != 200 {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	waitFor(t, "the TLS sidecar to deny", func() bool {
		return httpDoWith(t, withCert, "GET", side+"/v1/check", "", "", "Authorization", "Bearer standalone-tls").code == 401
	})
	c, _ := dialGRPC(t, grpcAddr, credentials.NewTLS(&tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{clientPair.tls}}))
	if got := answer(grpcAsk(c, "standalone-tls")); got != grpcRevoked {
		t.Errorf("gRPC: %s", got)
	}
	if r := httpDoWith(t, httpsClient(ca, nil), "GET", side+"/v1/check", "", "", "Authorization", "Bearer x"); r.code != 403 {
		t.Errorf("subscriber without a client certificate: %d", r.code)
	}

	missing := f.cert + ".missing"
	for _, args := range [][]string{
		{"publisher", "--config", writeConfig(t, ""), "--tls-cert", f.cert},
		{"subscriber", "--id", "x", "--tls-client-ca", f.clientCA},
		{"subscriber", "--id", "x", "--tls-cert", missing, "--tls-key", f.key},
		{"subscriber", "--id", "x", "--tls-cert", f.cert, "--tls-key", f.key, "--tls-client-ca", f.key},
		{"dev", "--data-dir", t.TempDir(), "--tls-cert", f.key, "--tls-key", f.cert},
	} {
		p := start(t, nil, args...)
		<-p.done
		if code := p.cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("revocast %v exited %d, want 2:\n%s", args, code, p.log())
		}
	}
}

// count is how many log lines have message msg.
func (p *proc) count(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if l["message"] == msg {
			n++
		}
	}
	return n
}
