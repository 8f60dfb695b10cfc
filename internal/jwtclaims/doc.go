// Package jwtclaims reads the claims revocast needs (iss, sub, azp or
// client_id, jti, sid, iat, exp, and a realm's configured user claim) from a
// JWT's payload without verifying its signature.
//
// Verifying tokens is the resource server's job; revocast only needs to know
// which realm, user and client a token belongs to and when it was issued, to
// match it against issued-before rules, and when it expires, to bound how
// long its revocation is kept. A forged token gains nothing from this: the
// worst it can do is be denied.
//
// The publisher (expiry of a revoked JWT) and the subscriber (rule matching)
// both need it, which is why it lives under internal/.
package jwtclaims
