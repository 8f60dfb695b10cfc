// Package eventsio moves the live revocations of a revocast stream in and
// out as NDJSON, for disaster recovery: Export writes a versioned header line
// and one record per token key (a batch event expanded to one line per
// token) or rule, with its expiry and, for tokens, the realm key its ledger
// mark carries; Import stores such a file into a stream through the
// publisher's JetStream store, with the ledger marks that make budgets and
// exact counts see the imported revocations.
//
// Import is idempotent and resumable without relying on the duplicate
// window: before storing it reads what the stream holds, skips a token key
// or rule whose subject already holds an equal or later revocation, writes
// each other one only if its subject still holds what it read (expected last
// subject sequence), and names imported batches after their content, so a
// second import of a file, or of its rest after a failure
// (ImportOptions.ResumeFromLine), stores nothing already there. Message ids
// name the import run, not only the content: the store takes a retried
// write whose subject holds a message with the same id for its own, and
// an earlier import's identical write is not this run's (content-only ids
// made a second import count marks it never wrote as stored). Records are
// parsed with a bounded line length; ParseRecord is fuzzed.
//
// Nothing here ever sees a token: records carry revocation keys (SHA-256).
// It lives under internal/ because only the revocast command uses it.
package eventsio
