package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A sidecar speaks for itself only, on subjects carrying its id, which NATS
// permissions confine each sidecar to (revocast.status.<id>.>): a front
// takes a sidecar's identity from the subject, never from a payload.
//
//	revocast.status.<id>.heartbeat          Heartbeat: presence and capacity
//	revocast.status.<id>.applied            Watermark: how far it has applied the stream
//	revocast.status.<id>.failures.<origin>  FailureReport: what it could not apply of a front's request
//
// A sidecar publishes a request's failures before the watermark that passes
// them, on the same connection, so a front sees them first.
const (
	statusPrefix = "revocast.status."
	// StatusSubjects is every sidecar's status.
	StatusSubjects = statusPrefix + ">"
	// PresenceProbeSubject asks every sidecar to send a heartbeat now.
	PresenceProbeSubject = "revocast.presence.probe"
)

// Status message kinds (the subject token after the sidecar's id).
const (
	StatusHeartbeat = "heartbeat"
	StatusApplied   = "applied"
	StatusFailures  = "failures"
)

// HeartbeatSubject, WatermarkSubject and FailuresSubject are a sidecar's
// status subjects; id and origin must be valid identifiers (ValidID).
func HeartbeatSubject(id string) string { return statusPrefix + id + "." + StatusHeartbeat }

// WatermarkSubject is where sidecar id announces its watermark.
func WatermarkSubject(id string) string { return statusPrefix + id + "." + StatusApplied }

// FailuresSubject is where sidecar id reports failures to the front origin.
func FailuresSubject(id, origin string) string {
	return statusPrefix + id + "." + StatusFailures + "." + origin
}

// FailuresSubjects is what the front origin subscribes to for its reports.
func FailuresSubjects(origin string) string {
	return statusPrefix + "*." + StatusFailures + "." + origin
}

// ParseStatusSubject returns the sidecar id, the kind and (for failures) the
// front origin of a status subject.
func ParseStatusSubject(subject string) (id, kind, origin string, ok bool) {
	rest, found := strings.CutPrefix(subject, statusPrefix)
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, ".")
	switch {
	case len(parts) == 2 && (parts[1] == StatusHeartbeat || parts[1] == StatusApplied):
	case len(parts) == 3 && parts[1] == StatusFailures:
		origin = parts[2]
	default:
		return "", "", "", false
	}
	if ValidID(parts[0]) != nil {
		return "", "", "", false
	}
	return parts[0], parts[1], origin, true
}

// Heartbeat is a sidecar's presence.
type Heartbeat struct {
	// Instance is generated at each start: two live instances announcing
	// one id are a conflict the front reports instead of trusting either.
	Instance string    `json:"instance"`
	Ready    bool      `json:"ready"`
	Stale    bool      `json:"stale"`
	Healthy  bool      `json:"healthy"`
	SentAt   time.Time `json:"sent_at"`
	// Capacity is how many token revocations its deny-cache holds; Entries
	// how many it holds now. The front refuses requests that would take a
	// live sidecar past its capacity.
	Capacity int64 `json:"capacity,omitempty"`
	Entries  int64 `json:"entries,omitempty"`
	// AppliedSeq and Epoch repeat its last watermark, so a sidecar with
	// nothing new to apply still says how far it is (revocast events info).
	AppliedSeq uint64 `json:"applied_seq,omitempty"`
	Epoch      int64  `json:"epoch,omitempty"`
}

// Watermark says a sidecar has applied (or reported as failed) every event
// of the stream up to Seq. Epoch names the stream it follows (its creation
// time), so a watermark of a deleted and re-created stream never confirms a
// request stored in its successor. An event replaced on its subject before
// the sidecar read it is covered too: only a newer event for the same
// token or scope replaces one.
type Watermark struct {
	Instance string
	Seq      uint64
	Epoch    int64 // Unix ns of the stream's creation
}

// ErrBadStatus: a status message that cannot be read.
var ErrBadStatus = errors.New("unreadable sidecar status")

const watermarkVersion = 1

// maxInstanceLen bounds an instance id.
const maxInstanceLen = 64

// Encode renders a watermark compactly: a version byte, Seq and Epoch as 8
// big-endian bytes each, then the instance id. A front decodes thousands of
// these a second, without reflection.
func (w Watermark) Encode() []byte {
	b := make([]byte, 0, 17+len(w.Instance))
	b = append(b, watermarkVersion)
	b = binary.BigEndian.AppendUint64(b, w.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(w.Epoch))
	return append(b, w.Instance...)
}

// DecodeWatermark reads what Encode wrote.
func DecodeWatermark(b []byte) (Watermark, error) {
	if len(b) < 17 || b[0] != watermarkVersion || len(b)-17 > maxInstanceLen {
		return Watermark{}, fmt.Errorf("%w: watermark of %d bytes", ErrBadStatus, len(b))
	}
	return Watermark{Seq: binary.BigEndian.Uint64(b[1:9]), Epoch: int64(binary.BigEndian.Uint64(b[9:17])),
		Instance: string(b[17:])}, nil
}

// FailureReport is what a sidecar could not apply of one live request's
// events. It is sent only when there are failures; a request may get
// several.
type FailureReport struct {
	Instance  string    `json:"instance"`
	RequestID string    `json:"request_id"`
	Failures  []Failure `json:"failures"`
}

// Failure is one event a sidecar could not apply.
type Failure struct {
	Token Sum    `json:"token_sha256,omitzero"`
	Rule  string `json:"rule,omitempty"` // the rule's scope key
	Error string `json:"error"`
}

// MaxFailureText bounds a failure's text as a front renders it: a sidecar's
// words are data, not trusted, and never long.
const MaxFailureText = 256

// FailureText makes a sidecar's failure text safe to show: at most
// MaxFailureText bytes of valid UTF-8 without control characters.
func FailureText(s string) string {
	if len(s) > MaxFailureText {
		s = s[:MaxFailureText]
	}
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
