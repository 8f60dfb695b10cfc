// Package registry is revocast's token registry: what issuers tell revocast
// about the tokens they issue (hash, type, realm, user, client, the refresh
// token an access token came from, expiry), so that "every token of user X"
// becomes an exact set and exact counts, and access and refresh tokens are
// linked.
//
// It lives in a JetStream KeyValue bucket with a per-key TTL at each token's
// expiry, so entries disappear when their tokens do (an index entry when the
// last token it lists expires; expired tokens in it are skipped):
//
//	t.<realm>.<token sha256>              one token's record in a realm
//	x.<realm>.<user>.<client>.<id>        up to 1,000 records of that scope registered together
//
// where realm, user and client are hashes of the names (never the names:
// keys are subjects).
//
// The realm is part of a record's identity: a token may have a record in
// each realm, so one realm's registrant can never claim, block or change
// another realm's record. Lookup reads named realms directly and lists a
// token's records in every realm with a filtered watch (t.*.<token
// sha256>); records written before realms were part of the key
// (t.<token sha256>) are still read until they expire.
//
// The tokens of a realm, of a user in a realm, of a user in every realm
// (x.*.<user>.>), of a consent, and the children of a refresh token (found
// in its consent scope) are read by key prefix without scanning every
// token. An index entry holds the records of one scope in one stored chunk,
// so a bulk registration costs between one write per token (a chunk of one
// scope) and two (a chunk of a thousand scopes), and finding a user's
// 100,000 tokens registered together reads about a hundred entries.
//
// Registration claims t.<realm>.<hash> with an expected last subject
// sequence of 0, so the first registration of a token in a realm wins and a
// conflicting one is refused; a line whose index cannot be written is
// rolled back. Writes are pipelined (publisher.Pipeline). Raw tokens are
// hashed on arrival and never stored.
//
// A record may name a JWT by its issuer and JWT ID (iss, jti) instead of
// the token, for identity providers that never show revocast the token:
// its key is events.JTIKey(iss, jti) and it is marked JTI in its record and
// its index entry (entries written before the mark read as unmarked).
//
// The feed streams: lines are parsed and stored in chunks of 1,000, at most
// three chunks in memory whatever the body's size; duplicates across chunks
// are the store's to judge (first registration wins). A line cap bounds the
// work a body of short lines can cause, and a body that ends early (read
// error, size limit, timeout, line cap, a store failing a whole chunk) is
// answered with an error naming the last line stored, so the issuer knows
// where to resume. After each
// chunk the handler moves the connection's read deadline ahead, so a body
// that keeps flowing outlives the server's ReadTimeout.
//
// The package serves POST /v1/tokens (one JSON object or NDJSON lines) and
// the NATS subjects revocast.registry.<realm key> for issuers on the bus (one
// per realm, so NATS permissions confine each issuer to its realms).
package registry
