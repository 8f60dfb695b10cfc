package events

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Subjects. Every token after the fixed prefix is a hash or an identifier
// revocast generated itself, never text a user or client supplied.
const (
	// StreamSubjects is the filter of the revocation stream.
	StreamSubjects = "revocast.rev.>"

	tokenSubjectPrefix = "revocast.rev.token."
	ruleSubjectPrefix  = "revocast.rev.rule."
	batchSubjectPrefix = "revocast.rev.batch."
	jtiSubjectPrefix   = "revocast.rev.jti."

	// LedgerSubjects is the filter of the ledger stream.
	LedgerSubjects      = "revocast.ledger.>"
	ledgerSubjectPrefix = "revocast.ledger.token."
	ledgerRulePrefix    = "revocast.ledger.rule."
	ledgerProbePrefix   = "revocast.ledger.probe."
	ledgerSeenPrefix    = "revocast.ledger.seen."
	ledgerLeasePrefix   = "revocast.ledger.lease."
	// LedgerRealmHeader carries the RealmKey of the realm a ledger mark
	// belongs to, so the live revocations of each realm can be counted
	// from the ledger.
	LedgerRealmHeader = "Revocast-Realm"

	// RegistrySubjects is the registry bus feed: one subject per realm
	// (RegistrySubject), so NATS permissions can confine an issuer to its
	// realms.
	RegistrySubjects      = registrySubjectPrefix + "*"
	registrySubjectPrefix = "revocast.registry."
)

// RegistrySubject returns the registry bus subject of realm: its RealmKey,
// never its name.
func RegistrySubject(realm string) string { return registrySubjectPrefix + RealmKey(realm) }

// RealmKeyOfRegistrySubject returns the realm key a registry bus subject names.
func RealmKeyOfRegistrySubject(subject string) (string, bool) {
	k, ok := strings.CutPrefix(subject, registrySubjectPrefix)
	return k, ok && k != "" && !strings.Contains(k, ".")
}

// TokenSubject returns the subject of the revocation of the token with hash sum.
func TokenSubject(sum Sum) string { return tokenSubjectPrefix + sum.String() }

// JTISubject returns the subject of the revocation of the JWT whose JTIKey is key.
func JTISubject(key Sum) string { return jtiSubjectPrefix + key.String() }

// BatchSubject returns the subject of batch number n of request requestID
// (an identifier revocast generated).
func BatchSubject(requestID string, n int) string {
	return batchSubjectPrefix + requestID + "." + strconv.Itoa(n)
}

// LedgerSubject returns the ledger subject of a token: it holds a message
// exactly while the token is revoked, and is written only if empty, which is
// how revocations are counted exactly across racing requests and fronts.
func LedgerSubject(sum Sum) string { return ledgerSubjectPrefix + sum.String() }

// LedgerRuleSubject returns the ledger subject of an issued-before rule
// (its scope key): the latest mark wins, so a realm's live rules can be
// counted. Token and rule marks are told apart by IsLedgerRule.
func LedgerRuleSubject(ruleKey string) string { return ledgerRulePrefix + ruleKey }

// LedgerProbeSubject is where a front writes a short-lived probe to learn
// whether JetStream stores again after publishing failed; origin is the
// front's generated id. Budgets do not count probes.
func LedgerProbeSubject(origin string) string { return ledgerProbePrefix + origin }

// LedgerSeenSubject returns the ledger subject recording that a signal
// (a Security Event Token, a logout token) named by key, a hash of its
// issuer and id, was applied: a replay finds it and changes nothing.
func LedgerSeenSubject(key Sum) string { return ledgerSeenPrefix + key.String() }

// LedgerLeaseSubject returns the ledger subject of a lease (one front
// polls a transmitter at a time) named by the hash of name.
func LedgerLeaseSubject(name string) string {
	h := sha256.Sum256([]byte(name))
	return ledgerLeasePrefix + hex.EncodeToString(h[:16])
}

// IsLedgerCounted reports whether a ledger subject is a revocation's mark
// (a token's or a rule's), which budgets count; probes, replay records and
// leases are bookkeeping.
func IsLedgerCounted(subject string) bool {
	return strings.HasPrefix(subject, ledgerSubjectPrefix) || strings.HasPrefix(subject, ledgerRulePrefix)
}

// IsLedgerProbe reports whether a ledger subject is a probe's.
func IsLedgerProbe(subject string) bool { return strings.HasPrefix(subject, ledgerProbePrefix) }

// IsLedgerRule reports whether a ledger subject is a rule's.
func IsLedgerRule(subject string) bool { return strings.HasPrefix(subject, ledgerRulePrefix) }

// RealmKey names a realm where a name must not appear (subjects, headers):
// 32 hex digits of the SHA-256 of the name; "_" for the unknown realm ("").
func RealmKey(realm string) string {
	if realm == "" {
		return "_"
	}
	h := sha256.Sum256([]byte(realm))
	return hex.EncodeToString(h[:16])
}

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
