// Package ssftest is a Shared Signals transmitter for tests: real keys
// (RS256, ES256, EdDSA) signing real Security Event Tokens and logout
// tokens with go-jose, its JWKS served over HTTP, and an RFC 8936 poll
// endpoint that re-delivers what is not acknowledged and records
// acknowledgements and errors. Nothing in it is a mock of revocast.
package ssftest
