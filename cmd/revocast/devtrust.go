package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/revocast/revocast/internal/natsauth"
)

// devNATS is the NATS trust of revocast dev: generated at first start in
// <data-dir>/nats, with a credentials file per role there (mode 0600), so
// the embedded server takes no anonymous client and an extra `revocast
// subscriber` can join with --nats-creds.
type devNATS struct {
	dir                      string
	trust                    *natsauth.Trust
	operator, front, sidecar []byte // credentials
	sidecarFile              string
}

// devTrust loads or generates the trust and the dev sidecar's credentials.
func devTrust(dataDir, sidecarID string) (*devNATS, error) {
	dir := filepath.Join(dataDir, "nats")
	t, _, err := natsauth.Init(dir)
	if err != nil {
		return nil, fmt.Errorf("NATS trust in %s: %w", dir, err)
	}
	d := &devNATS{dir: dir, trust: t, sidecarFile: filepath.Join(dir, "sidecar-"+sidecarID+".creds")}
	for _, f := range []struct {
		dst  *[]byte
		file string
	}{{&d.operator, natsauth.CredsFile(natsauth.Operator)}, {&d.front, natsauth.CredsFile(natsauth.Front)}} {
		if *f.dst, err = os.ReadFile(filepath.Join(dir, f.file)); err != nil {
			return nil, fmt.Errorf("NATS credentials: %w", err)
		}
	}
	d.sidecar, err = os.ReadFile(d.sidecarFile)
	if errors.Is(err, fs.ErrNotExist) {
		if d.sidecar, err = t.Mint(natsauth.Sidecar, sidecarID, nil); err == nil {
			err = os.WriteFile(d.sidecarFile, d.sidecar, 0o600)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("NATS credentials of sidecar %q: %w", sidecarID, err)
	}
	return d, nil
}

// tell says where the credentials are and how another sidecar joins.
func (d *devNATS) tell(w io.Writer, url string) {
	fmt.Fprintf(w, "revocast dev: NATS on %s takes no anonymous client; credentials (mode 0600) in %s:\n"+
		"  operator %s, front %s, sidecar %s\n"+
		"  another sidecar: ./bin/revocast nats-creds --dir %s --role sidecar --name side-2 --out side-2.creds &&\n"+
		"    ./bin/revocast subscriber --id side-2 --nats-url %s --nats-creds side-2.creds --subscriber-addr 127.0.0.1:8091\n",
		url, d.dir, natsauth.CredsFile(natsauth.Operator), natsauth.CredsFile(natsauth.Front), filepath.Base(d.sidecarFile),
		d.dir, url)
}
