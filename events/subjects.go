package events

import (
	"fmt"
)

// Subjects. Every token after the fixed prefix is a hash or an identifier
// revocast generated itself, never text a user or client supplied.
const (
	// StreamSubjects is the filter of the revocation stream.
	StreamSubjects = "revocast.rev.>"

	tokenSubjectPrefix = "revocast.rev.token."
	ruleSubjectPrefix  = "revocast.rev.rule."

	// PresenceSubject carries sidecars' heartbeats (core NATS).
	PresenceSubject = "revocast.presence"
	// PresenceProbeSubject asks every sidecar to send a heartbeat now.
	PresenceProbeSubject = "revocast.presence.probe"

	outcomeSubjectPrefix = "revocast.outcome."
)

// TokenSubject returns the subject of the revocation of the token with hash sum.
func TokenSubject(sum Sum) string { return tokenSubjectPrefix + sum.String() }

// OutcomeSubject returns the subject on which sidecars report to the front
// instance origin. origin must be a generated identifier (see ValidID).
func OutcomeSubject(origin string) string { return outcomeSubjectPrefix + origin }

// ValidID reports whether id may be used as a subject token: 1 to 64
// characters of [A-Za-z0-9_-]. revocast only puts identifiers it generated
// itself into subjects; ValidID guards that rule.
func ValidID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("%w: identifier must be 1 to 64 characters", ErrInvalidEvent)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: identifier may hold only letters, digits, '_' and '-'", ErrInvalidEvent)
		}
	}
	return nil
}
