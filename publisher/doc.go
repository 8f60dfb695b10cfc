// Package publisher is the core of revocast's HTTP front: it turns a
// canonical revocation Request into revocation events, stores them durably in
// the JetStream stream, waits for the live sidecars to confirm them, and
// returns a format-neutral Result with exact counts and per-token failures.
//
// The request formats (Elasticsearch, Oracle Access Manager, OneLogin,
// RFC 7009) live in their own packages below this one; each only parses,
// authenticates and renders, and all of them call Core.Revoke. The core
// depends on a narrow Store interface, so it can be tested without NATS and
// run against JetStream in production (JetStreamStore).
//
// Counting is derived from the stream itself, never from process memory: a
// token revocation is published with an expected last subject sequence of 0,
// so of any number of concurrent requests for one token, across any number of
// publisher processes, exactly one is stored and the others learn the token
// was already revoked.
package publisher
