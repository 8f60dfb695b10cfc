// Package cache owns the sidecar's deny state: a ristretto deny-cache of
// revoked token hashes that never loses an entry silently, and the
// issued-before rules, which live in a map that cannot evict.
//
// ristretto is an admission cache: a Set can be dropped when its buffer is
// full, and a new key can be rejected by the TinyLFU policy once the cache is
// full. A dropped revocation is a revoked token that still works, so DenyCache
// uses cost 1 with IgnoreInternalCost, waits for every batch to be applied,
// verifies each entry with Get, retries what is missing with exponential
// backoff, and returns what still cannot be admitted to the caller as a
// Failure. An unexpired entry evicted to make room means the capacity is
// exhausted: Health reports it from then on.
//
// Lookups (Contains, Rules.Match) do not allocate.
package cache
