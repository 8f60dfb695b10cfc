package events

import "time"

// Outcome is a sidecar's report of what it applied of one request's events.
// A sidecar may send several outcomes for one request (it batches); the front
// adds them up.
type Outcome struct {
	Subscriber string    `json:"subscriber"`
	RequestID  string    `json:"request_id"`
	Applied    int       `json:"applied"`
	Failures   []Failure `json:"failures,omitempty"`
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
}
