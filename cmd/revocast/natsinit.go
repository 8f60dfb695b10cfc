package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/revocast/revocast/internal/natsauth"
)

// runNATSInit generates the NATS trust (operator, accounts, role signing
// keys) in a directory, or loads the one there.
func runNATSInit(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("nats-init", "Generate the NATS trust of a revocast deployment in --dir, or load the one there (idempotent):\n"+
		"an operator, the system account and the REVOCAST account with one signing key per role (operator, front,\n"+
		"sidecar, issuer), auth.conf for the NATS servers, and credentials for the operator and front roles.\n"+
		"Seeds and credentials are written with mode 0600 in a 0700 directory; keep it off the NATS hosts and pods.", stderr)
	dir := fs.String("dir", "", "directory of the NATS trust (created if missing)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	if *dir == "" {
		return usageErr(errors.New("--dir is required"))
	}
	_, outcome, err := natsauth.Init(*dir)
	if err != nil {
		return err
	}
	p := func(name string) string { return filepath.Join(*dir, name) }
	switch outcome {
	case natsauth.Generated:
		fmt.Fprintf(stdout, "generated a new NATS trust in %s\n", *dir)
	case natsauth.Loaded:
		fmt.Fprintf(stdout, "loaded the NATS trust in %s: nothing to change\n", *dir)
	case natsauth.Updated:
		fmt.Fprintf(stdout, "updated the NATS trust in %s (same keys): copy auth.conf to every NATS node again and reload them (nats-server --signal reload)\n", *dir)
	}
	fmt.Fprintf(stdout, `
for the NATS servers (no secret):
  %s
secrets (mode 0600; keep them here, off the NATS hosts and the pods):
  %s
      signs the account JWT again (a later nats-init)
  %s
      mint users of each role (nats-creds)
  %s
      the operator role: the only identity that creates, updates, purges or deletes the streams and the bucket
  %s
      the front role

next steps:
  1. copy auth.conf next to deployments/nats/node-*.conf on every NATS node (they include it)
  2. cd deployments/nats && ./make-certs.sh   (a private CA and the nodes' TLS certificates); start the nodes
  3. give the fronts front.creds and certs/ca.pem
  4. mint one credential per sidecar, named by its id, and per issuer, with its realms:
       revocast nats-creds --dir %s --role sidecar --name SIDECAR_ID --out SIDECAR_ID.creds
       revocast nats-creds --dir %s --role issuer --name ISSUER --realm REALM --out ISSUER.creds
`, p(natsauth.AuthConfFile), p(natsauth.OperatorSeedFile), p("role-{operator,front,sidecar,issuer}.nk"),
		p(natsauth.CredsFile(natsauth.Operator)), p(natsauth.CredsFile(natsauth.Front)), *dir, *dir)
	return nil
}
