// Package auth owns who may revoke what: principals (OAuth clients,
// Elasticsearch users and API keys) with secrets stored only as argon2id or
// bcrypt hashes, the formats and realms each may use, the parsing of every
// Authorization scheme the formats accept, and the rate limiting of failed
// attempts per principal id and per source address.
//
// Secrets are compared in constant time. An unknown id is hashed against a
// dummy of the configured hashes' scheme and cost (picked per id in the
// proportions the principals of its kind use each) and gets the same
// answer, so a 401 never tells whether an id exists. A verified secret is remembered for a few minutes
// as an HMAC under a per-process key (never in clear), so a busy client does
// not pay the deliberately slow hash on every request.
package auth
