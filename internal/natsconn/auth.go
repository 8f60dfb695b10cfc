package natsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
)

// ErrCredentials: a credential option cannot be used (a missing or
// unreadable file, a half-given pair).
var ErrCredentials = errors.New("NATS credentials")

// Auth says how a client proves who it is to NATS and how it trusts the
// server. At most one of CredsFile, NkeyFile and User is set.
type Auth struct {
	CredsFile string // a user JWT and its nkey seed (decentralized JWT auth): --nats-creds
	NkeyFile  string // an nkey seed file: --nats-nkey
	User      string // --nats-user, with Password from REVOCAST_NATS_PASSWORD only
	Password  string
	TLSCA     string // PEM CAs the server's certificate must chain to: --nats-tls-ca
	TLSCert   string // a client certificate and key for mutual TLS: --nats-tls-cert, --nats-tls-key
	TLSKey    string
}

// Describe names the credential in use for error messages, never a secret.
func (a Auth) Describe() string {
	switch {
	case a.CredsFile != "":
		return "the credentials in --nats-creds " + a.CredsFile
	case a.NkeyFile != "":
		return "the nkey in --nats-nkey " + a.NkeyFile
	case a.User != "":
		return fmt.Sprintf("user %q (--nats-user, password from REVOCAST_NATS_PASSWORD)", a.User)
	}
	return "no credentials (anonymous)"
}

// Validate reports every unusable option at once, naming the flag.
func (a Auth) Validate() error {
	var errs []error
	n := 0
	for _, set := range []bool{a.CredsFile != "", a.NkeyFile != "", a.User != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, fmt.Errorf("%w: give one of --nats-creds, --nats-nkey and --nats-user", ErrCredentials))
	}
	if a.User != "" && a.Password == "" {
		errs = append(errs, fmt.Errorf("%w: --nats-user needs REVOCAST_NATS_PASSWORD in the environment", ErrCredentials))
	}
	if a.User == "" && a.Password != "" {
		errs = append(errs, fmt.Errorf("%w: REVOCAST_NATS_PASSWORD is set without --nats-user", ErrCredentials))
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		errs = append(errs, fmt.Errorf("%w: --nats-tls-cert and --nats-tls-key go together", ErrCredentials))
	}
	for flag, path := range map[string]string{"--nats-creds": a.CredsFile, "--nats-nkey": a.NkeyFile,
		"--nats-tls-ca": a.TLSCA, "--nats-tls-cert": a.TLSCert, "--nats-tls-key": a.TLSKey} {
		if path == "" {
			continue
		}
		if f, err := os.Open(path); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrCredentials, flag, err))
		} else {
			f.Close()
		}
	}
	return errors.Join(errs...)
}

// Options returns the nats.Options for a.
func (a Auth) Options() ([]nats.Option, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case a.CredsFile != "":
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	case a.NkeyFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --nats-nkey %s: %w", ErrCredentials, a.NkeyFile, err)
		}
		opts = append(opts, o)
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.TLSCA != "" || a.TLSCert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if a.TLSCA != "" {
			pem, err := os.ReadFile(a.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("%w: --nats-tls-ca: %w", ErrCredentials, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: --nats-tls-ca %s holds no PEM certificate", ErrCredentials, a.TLSCA)
			}
			cfg.RootCAs = pool
		}
		if a.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(a.TLSCert, a.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("%w: --nats-tls-cert/--nats-tls-key: %w", ErrCredentials, err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, nats.Secure(cfg))
	}
	return opts, nil
}
