// Package jwttest makes real signed JWTs for tests, and the other spellings
// of them a thief can mint without the key: a re-encoded signature (base64url
// carries unused low bits in a segment's last character) and, for ECDSA, the
// high-s twin of the signature. Both verify with golang-jwt's default parser.
package jwttest
