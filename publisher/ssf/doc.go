// Package ssf receives revocations from identity providers: Security Event
// Tokens (RFC 8417) of the OpenID Shared Signals Framework 1.0, pushed to
// POST /ssf/events (RFC 8935) or polled from a transmitter (RFC 8936), and
// OpenID Connect Back-Channel Logout 1.0 logout tokens posted to
// POST /oidc/backchannel-logout.
//
// Like every request source under publisher/ it only parses, authenticates
// and renders: a verified signal becomes canonical publisher.Requests (a
// session, a user issued-before the event's time, or one JWT by issuer and
// JWT ID), and the core decides, authorizes by realm and stores. The
// package adds what signals need beyond a request format:
//
//   - keys: each transmitter's JWKS, from a file or fetched from its
//     jwks_uri, cached, refreshed on an unknown kid at a bounded rate;
//     only RS256, ES256 and EdDSA, never none or HMAC (keys.go);
//   - verification and parsing of SETs and logout tokens (set.go,
//     subject.go, logout.go), with the exact RFC 8935 error codes;
//   - the mapping from CAEP and RISC events and SSF subject identifiers to
//     requests (mapping.go), and a metric for what it cannot map;
//   - replay protection: a signal's (iss, jti) is recorded in the ledger
//     stream once what it implies is stored, for as long as any token it
//     can affect lives, so a replay changes nothing (replay.go);
//   - one poller per poll transmitter, active on one front at a time under
//     a lease on the ledger stream (poll.go, lease.go).
//
// Transmitters authenticate pushes with bearer tokens of their own, stored
// hashed (auth.KindTransmitter, allowed auth.OpSSF only), not as configured
// clients: a transmitter is bound to an issuer, keys, an audience and
// realms, which a client entry does not carry.
package ssf
