package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/revocast/revocast/internal/natsauth"
)

// runNATSCreds mints the NATS credentials of one sidecar, issuer, front or
// operator with the trust nats-init wrote.
func runNATSCreds(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("nats-creds", "Mint NATS credentials (a creds file: user JWT and seed) with the trust in --dir:\n"+
		"  revocast nats-creds --dir DIR --role sidecar --name SIDECAR_ID --out SIDECAR_ID.creds\n"+
		"  revocast nats-creds --dir DIR --role issuer --name IDP --realm REALM [--realm REALM2] --out IDP.creds\n"+
		"A sidecar may only speak for the id it is named by; an issuer may only register in its realms.\n"+
		"The file is written with mode 0600 and never overwritten; --out - prints the credentials (the seed included).", stderr)
	dir := fs.String("dir", "", "directory of the NATS trust (revocast nats-init)")
	role := fs.String("role", "", "sidecar, issuer, front or operator")
	name := fs.String("name", "", "the sidecar's id or the issuer's name: 1 to 64 characters of A-Z a-z 0-9 _ -")
	var realms stringList
	fs.Var(&realms, "realm", "a realm the issuer may register in (repeat the flag for several; issuers only)")
	out := fs.String("out", "", "file to write; default NAME.creds in the current directory; - for standard output")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	if *dir == "" || *role == "" || *name == "" {
		return usageErr(errors.New("--dir, --role and --name are required"))
	}
	r, err := natsauth.ParseRole(*role)
	if err != nil {
		return usageErr(err)
	}
	creds, err := natsauth.Mint(*dir, r, *name, realms)
	switch {
	case errors.Is(err, natsauth.ErrInvalidName), errors.Is(err, natsauth.ErrRealms):
		return usageErr(err)
	case err != nil:
		return err
	}
	if *out == "-" {
		_, err := stdout.Write(creds)
		return err
	}
	path := *out
	if path == "" {
		path = *name + ".creds"
	}
	if err := writeNew(path, creds); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (mode 0600): %s %q; its client must use the inbox prefix %s\n",
		path, r, *name, natsauth.InboxPrefix(r, *name))
	return nil
}

// writeNew creates path with mode 0600; it refuses to replace a file.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}
