package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/rs/zerolog"
)

// tlsOpts: --tls-cert and --tls-key serve HTTPS (and TLS on the gRPC port);
// --tls-client-ca (the sidecar only) asks for client certificates.
type tlsOpts struct {
	cert, key, clientCA string
}

func (o *tlsOpts) register(fs *flag.FlagSet, withClientCA bool) {
	fs.StringVar(&o.cert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with (TLS 1.2 or newer); re-read when the file changes")
	fs.StringVar(&o.key, "tls-key", "", "PEM private key of --tls-cert")
	if withClientCA {
		fs.StringVar(&o.clientCA, "tls-client-ca", "", "PEM CA certificates: the sidecar's checks (HTTP and gRPC) need a client certificate they signed (mutual TLS; /healthz and /readyz excepted)")
	}
}

func (o *tlsOpts) validate() error {
	var errs []error
	if (o.cert == "") != (o.key == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if o.clientCA != "" && o.cert == "" {
		errs = append(errs, errors.New("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)"))
	}
	return errors.Join(errs...)
}

// serverConfig returns the TLS configuration of a server, or nil without
// --tls-cert. The pair is loaded now (an error is the operator's) and
// re-read when its files change.
func (o *tlsOpts) serverConfig(log zerolog.Logger) (*tls.Config, error) {
	if o.cert == "" {
		return nil, nil
	}
	r, err := newCertReloader(o.cert, o.key, log)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}, nil
}

// sidecarConfig adds --tls-client-ca to base: a client certificate is
// verified when given, and requireClientCert (HTTP) and
// requireClientCertGRPC refuse checks without one. (The handshake does not
// require one, so that probes without a certificate can still read
// /readyz.)
func (o *tlsOpts) sidecarConfig(base *tls.Config) (*tls.Config, error) {
	if base == nil || o.clientCA == "" {
		return base, nil
	}
	pem, err := os.ReadFile(o.clientCA)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", o.clientCA)
	}
	c := base.Clone()
	c.ClientCAs = pool
	c.ClientAuth = tls.VerifyClientCertIfGiven
	return c, nil
}

// mutual says whether cfg asks for client certificates.
func mutual(cfg *tls.Config) bool { return cfg != nil && cfg.ClientCAs != nil }

// requireClientCert refuses (403) every request to the sidecar but the
// probes (GET /healthz, GET /readyz) whose connection did not present a
// client certificate verified against --tls-client-ca.
func requireClientCert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.Method == http.MethodGet && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz")
		if probe || (r.TLS != nil && len(r.TLS.VerifiedChains) > 0) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "forbidden",
			"reason": "a client certificate signed by the sidecar's --tls-client-ca is required"})
	})
}

// clientCertGuard is requireClientCert under mutual TLS, else nil.
func clientCertGuard(cfg *tls.Config) func(http.Handler) http.Handler {
	if mutual(cfg) {
		return requireClientCert
	}
	return nil
}

// scheme is the URL scheme of a server with cfg.
func scheme(cfg *tls.Config) string {
	if cfg == nil {
		return "http"
	}
	return "https"
}
