package events

import "strings"

// Subject filters of each kind of message, for tools that read the streams
// (revocast events info, tail, export and import).
const (
	TokenSubjects       = tokenSubjectPrefix + ">"
	JTISubjects         = jtiSubjectPrefix + ">"
	BatchSubjects       = batchSubjectPrefix + ">"
	RuleSubjects        = ruleSubjectPrefix + ">"
	LedgerTokenSubjects = ledgerSubjectPrefix + ">"
	LedgerRuleSubjects  = ledgerRulePrefix + ">"
)

// LedgerSum returns the token key a ledger token subject names.
func LedgerSum(subject string) (Sum, bool) {
	h, ok := strings.CutPrefix(subject, ledgerSubjectPrefix)
	if !ok {
		return Sum{}, false
	}
	s, err := ParseSum(h)
	return s, err == nil
}
