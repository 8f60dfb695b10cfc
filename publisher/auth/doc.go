// Package auth owns who may revoke what: principals (OAuth clients,
// Elasticsearch users and API keys) with secrets stored only as argon2id or
// bcrypt hashes, the formats and realms each may use, the parsing of every
// Authorization scheme the formats accept, and the limits that keep
// authentication from being turned against the service or its admins.
//
// A 401 never tells whether an id exists: secrets are compared in constant
// time, and an unknown id is hashed once against a dummy of the configured
// hashes' scheme and cost (picked per id in the proportions the principals
// of its kind use each), so it takes as long as a known one.
//
// A verified secret is remembered for a few minutes as an HMAC under a
// per-process key (never in clear), so a busy client does not pay the
// deliberately slow hash on every request; a remembered secret needs no
// budget and no slot.
//
// Anything else takes one failure, before it is hashed, from the budget of
// its address (an IPv6 /64) and of its id at that address; either spent
// means 429. The id's own budget is spent by failures from anywhere, so it
// slows attempts down (at most MaxSlowdown) rather than refusing them, and
// not at all from an address the id authenticated from before: an attacker
// cannot lock an admin out. A success gives the failure back, and the same
// presentation from the same address at the same time is authenticated
// once, so a client's parallel requests do not spend its budget.
//
// At most Verifiers secrets are hashed at once (the CPUs, fewer when
// argon2id's memory would pass 48 MiB), VerifyQueue more wait, and past
// both an attempt is refused at once with ErrBusy (429 too): memory and CPU
// stay bounded however many attempts come.
package auth
