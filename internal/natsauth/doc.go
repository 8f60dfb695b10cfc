// Package natsauth owns revocast's identities on the NATS bus: one operator,
// the system account and the REVOCAST account, whose four scoped signing
// keys (operator, front, sidecar, issuer) each carry one role's permissions.
// A user minted with a role's key gets exactly that role's permissions, so
// the roles are defined once, in the account JWT, and a new sidecar needs no
// server configuration: its credentials name it, and permission templates
// ({{name()}}, {{tag(realm)}}) confine it to its own subjects.
//
// It generates and loads the trust directory that "revocast nats-init"
// writes (seeds and credentials with mode 0600 in a 0700 directory, and
// auth.conf, the fragment the shipped nats-server configurations include),
// mints credentials ("revocast nats-creds"), configures an embedded server
// in operator mode (Trust.ConfigureServer), and gives clients their options
// (credentials and the inbox prefix their role may subscribe to).
//
// The permissions are enforced by the NATS server; the tests in this package
// prove each role's grants and refusals with real clients against the
// shipped 3-node cluster configuration.
package natsauth
