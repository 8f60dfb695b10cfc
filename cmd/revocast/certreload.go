package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// certCheckInterval: how often, at most, a handshake looks at the
// certificate files' modification times.
const certCheckInterval = 2 * time.Second

// certReloader serves a certificate and key pair read from two files, and
// reads them again when either file changes (cert-manager, a Kubernetes
// secret volume, or an operator replacing them). A new pair that does not
// load (half written, or a key that does not match) is logged and the
// previous pair kept; it is tried again when a file changes again.
type certReloader struct {
	certPath, keyPath string
	log               zerolog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	seen    [2]fileStamp // the files as last tried
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func (a fileStamp) same(b fileStamp) bool { return a.mod.Equal(b.mod) && a.size == b.size }

// newCertReloader loads the pair once; failing that, it fails.
func newCertReloader(certPath, keyPath string, log zerolog.Logger) (*certReloader, error) {
	r := &certReloader{certPath: certPath, keyPath: keyPath, log: log}
	st, err := r.stamps()
	if err != nil {
		return nil, err
	}
	if err := r.load(st); err != nil {
		return nil, err
	}
	r.checked = time.Now()
	return r, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= certCheckInterval {
		r.checked = now
		r.reloadIfChanged()
	}
	return r.cert, nil
}

func (r *certReloader) reloadIfChanged() {
	st, err := r.stamps()
	if err != nil {
		r.log.Error().Err(err).Msg("TLS certificate files unreadable: keeping the current certificate")
		return
	}
	if st[0].same(r.seen[0]) && st[1].same(r.seen[1]) {
		return
	}
	if err := r.load(st); err != nil {
		r.log.Error().Err(err).Msg("TLS certificate files changed but do not load: keeping the current certificate")
	}
}

// load reads the pair; the caller holds mu (or owns r).
func (r *certReloader) load(st [2]fileStamp) error {
	r.seen = st
	c, err := tls.LoadX509KeyPair(r.certPath, r.keyPath)
	if err != nil {
		return fmt.Errorf("--tls-cert %s, --tls-key %s: %w", r.certPath, r.keyPath, err)
	}
	r.cert = &c
	ev := r.log.Info().Str("cert", r.certPath)
	if c.Leaf != nil {
		ev = ev.Str("subject", c.Leaf.Subject.String()).Str("serial", c.Leaf.SerialNumber.Text(16)).
			Time("not_after", c.Leaf.NotAfter)
		if time.Now().After(c.Leaf.NotAfter) {
			r.log.Warn().Str("cert", r.certPath).Time("not_after", c.Leaf.NotAfter).Msg("TLS certificate has expired")
		}
	}
	ev.Msg("TLS certificate loaded")
	return nil
}

func (r *certReloader) stamps() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, p := range []string{r.certPath, r.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return st, fmt.Errorf("TLS certificate files: %w", err)
		}
		st[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return st, nil
}
