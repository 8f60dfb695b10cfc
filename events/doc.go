// Package events is revocast's shared vocabulary: the versioned revocation
// event schema, SHA-256 token hashing, the NATS subjects events travel on and
// the JetStream stream that stores them.
//
// Two kinds of revocation exist. A token revocation names one token by the
// lowercase hex SHA-256 of its text and says until when it must be denied.
// An issued-before rule revokes every token of a scope (a realm, a user in any
// realm, a user in a realm, a user's consent to a client, or one login
// session in a realm) issued at or before a point in time.
//
// No raw token and no user-controlled text ever appears in a subject: a token
// subject carries the token's hash and a rule subject carries the hash of the
// rule's scope. The stream keeps one message per subject (the latest wins) and
// every message carries a per-message TTL, so a revocation leaves the stream
// once every token it can affect has expired and replay stays bounded.
//
// The package imports nothing else of revocast; the publisher, the subscriber
// and the cache all speak it.
package events
