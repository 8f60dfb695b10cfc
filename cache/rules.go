package cache

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/revocast/revocast/events"
)

// Rules holds the issued-before rules. It is a plain map: rules are few (one
// per scope) and must never be evicted. Safe for concurrent use.
type Rules struct {
	mu sync.RWMutex
	m  map[events.Rule]ruleState
	n  atomic.Int64
}

type ruleState struct {
	issuedBefore int64 // Unix seconds; tokens issued at or before are revoked
	expires      int64 // Unix ns; after this every token the rule can affect has expired
}

// NewRules returns an empty rule set.
func NewRules() *Rules { return &Rules{m: make(map[events.Rule]ruleState)} }

// Add records that every token of r issued at or before issuedBefore is
// revoked until expiresAt. A rule for the same scope keeps the later time.
func (rs *Rules) Add(r events.Rule, issuedBefore, expiresAt time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	cur, ok := rs.m[r]
	next := ruleState{issuedBefore: issuedBefore.Unix(), expires: expiresAt.UnixNano()}
	if ok {
		next.issuedBefore = max(next.issuedBefore, cur.issuedBefore)
		next.expires = max(next.expires, cur.expires)
	}
	rs.m[r] = next
	rs.n.Store(int64(len(rs.m)))
}

// Match reports the rule, if any, that revokes a token of realm, user and
// client issued at issuedAt. A zero issuedAt (unknown) is matched by every
// rule of the token's scope: an unknown issue time cannot prove the token is
// newer. Match does not allocate.
func (rs *Rules) Match(realm, user, client string, issuedAt time.Time) (events.Rule, bool) {
	if rs.n.Load() == 0 {
		return events.Rule{}, false
	}
	now := time.Now().UnixNano()
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	try := func(r events.Rule) bool {
		st, ok := rs.m[r]
		return ok && st.expires > now && (issuedAt.IsZero() || issuedAt.Unix() <= st.issuedBefore)
	}
	if realm != "" {
		if r := (events.Rule{Scope: events.ScopeRealm, Realm: realm}); try(r) {
			return r, true
		}
	}
	if user == "" {
		return events.Rule{}, false
	}
	if r := (events.Rule{Scope: events.ScopeUser, User: user}); try(r) {
		return r, true
	}
	if realm == "" {
		return events.Rule{}, false
	}
	if r := (events.Rule{Scope: events.ScopeRealmUser, Realm: realm, User: user}); try(r) {
		return r, true
	}
	if client != "" {
		if r := (events.Rule{Scope: events.ScopeConsent, Realm: realm, User: user, Client: client}); try(r) {
			return r, true
		}
	}
	return events.Rule{}, false
}

// MatchSession reports the session rule, if any, that revokes a token of
// realm carrying session id session (its sid) issued at issuedAt; a zero
// issuedAt is matched by any rule of the session, as in Match. It does not
// allocate.
func (rs *Rules) MatchSession(realm, session string, issuedAt time.Time) (events.Rule, bool) {
	if session == "" || realm == "" || rs.n.Load() == 0 {
		return events.Rule{}, false
	}
	r := events.Rule{Scope: events.ScopeSession, Realm: realm, Session: session}
	now := time.Now().UnixNano()
	rs.mu.RLock()
	st, ok := rs.m[r]
	rs.mu.RUnlock()
	if ok && st.expires > now && (issuedAt.IsZero() || issuedAt.Unix() <= st.issuedBefore) {
		return r, true
	}
	return events.Rule{}, false
}

// Prune removes rules whose every token has expired and returns how many.
func (rs *Rules) Prune(now time.Time) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for r, st := range rs.m {
		if st.expires <= now.UnixNano() {
			delete(rs.m, r)
			n++
		}
	}
	rs.n.Store(int64(len(rs.m)))
	return n
}

// Len returns the number of rules held.
func (rs *Rules) Len() int { return int(rs.n.Load()) }

// Clear removes every rule (a sidecar's rebuild).
func (rs *Rules) Clear() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.m = make(map[events.Rule]ruleState)
	rs.n.Store(0)
}
