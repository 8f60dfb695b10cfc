package events

import "time"

// Outcome is a sidecar's report of what it applied of one live request's
// events (tokens and rules) and what it could not apply. A sidecar may send
// several for one request; it sends them before its Applied watermark
// passes the events, on the same connection, so a front sees a request's
// failures before the watermark that confirms it.
type Outcome struct {
	Subscriber string    `json:"subscriber"`
	RequestID  string    `json:"request_id"`
	Applied    int       `json:"applied"`
	Failures   []Failure `json:"failures,omitempty"`
}

// Applied is a sidecar's watermark: it has applied (or reported as failed)
// every event of the revocation stream up to Seq. An event replaced on its
// subject before the sidecar read it is covered too: only a newer event for
// the same token or scope replaces one.
type Applied struct {
	Subscriber string `json:"subscriber"`
	Instance   string `json:"instance"`
	Seq        uint64 `json:"seq"`
}

// Failure is one event a sidecar could not apply.
type Failure struct {
	Token Sum    `json:"token_sha256,omitzero"`
	Rule  string `json:"rule,omitempty"` // the rule's scope key
	Error string `json:"error"`
}

// Presence is a sidecar's heartbeat.
type Presence struct {
	Subscriber string    `json:"subscriber"`
	Instance   string    `json:"instance"`
	Ready      bool      `json:"ready"`
	Stale      bool      `json:"stale"`
	Healthy    bool      `json:"healthy"`
	AppliedSeq uint64    `json:"applied_seq"`
	SentAt     time.Time `json:"sent_at"`
	// Capacity is how many token revocations the sidecar's deny-cache
	// holds; Entries how many it holds now. The front refuses requests that
	// would take a live sidecar past its capacity.
	Capacity int64 `json:"capacity,omitempty"`
	Entries  int64 `json:"entries,omitempty"`
}
