package events

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Rule is the scope of an issued-before rule.
type Rule struct {
	Scope  Scope
	Realm  string
	User   string
	Client string
	// Session is a session id (ScopeSession only).
	Session string
}

// Validate checks that the fields the scope needs are set and the others are empty.
func (r Rule) Validate() error {
	need := func(realm, user, client bool) error {
		if (r.Realm != "") != realm || (r.User != "") != user || (r.Client != "") != client || r.Session != "" {
			return fmt.Errorf("%w: scope %q needs realm=%t user=%t client=%t and no session", ErrInvalidEvent, r.Scope, realm, user, client)
		}
		return nil
	}
	switch r.Scope {
	case ScopeRealm:
		return need(true, false, false)
	case ScopeUser:
		return need(false, true, false)
	case ScopeRealmUser:
		return need(true, true, false)
	case ScopeConsent:
		return need(true, true, true)
	case ScopeSession:
		if r.Realm == "" || r.Session == "" || r.User != "" || r.Client != "" {
			return fmt.Errorf("%w: scope %q needs a realm and a session, no user or client", ErrInvalidEvent, r.Scope)
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown scope %q", ErrInvalidEvent, truncateName(string(r.Scope)))
	}
}

// Key returns the lowercase hex SHA-256 identifying the scope. Fields are
// length-prefixed, so no choice of names makes two scopes share a key. The
// session is hashed only when set, so the keys of the other scopes are
// those they always had.
func (r Rule) Key() string {
	h := sha256.New()
	var n [4]byte
	fields := []string{string(r.Scope), r.Realm, r.User, r.Client}
	if r.Session != "" {
		fields = append(fields, r.Session)
	}
	for _, f := range fields {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Subject returns the subject the rule is stored under: its scope kind and
// the hash of its names, never the names themselves.
func (r Rule) Subject() string {
	return ruleSubjectPrefix + string(r.Scope) + "." + r.Key()
}

// String describes the rule for logs and error messages.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(string(r.Scope))
	for _, kv := range [][2]string{{"realm", r.Realm}, {"user", r.User}, {"client", r.Client}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%q", kv[0], kv[1])
		}
	}
	if r.Session != "" {
		// A session id is a handle on someone's login: named by a hash.
		sum := sha256.Sum256([]byte(r.Session))
		fmt.Fprintf(&b, " session=%x", sum[:6])
	}
	return b.String()
}
