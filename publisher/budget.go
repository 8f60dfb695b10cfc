package publisher

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/revocast/revocast/events"
)

// ErrOverBudget: the request would take a realm past its quota of live
// revocations or a live sidecar past its capacity; see *BudgetError.
var ErrOverBudget = errors.New("over the live revocation budget")

// BudgetError says which limit a request would break; it matches ErrOverBudget.
type BudgetError struct {
	Realm   string // a realm's quota ("" with Sidecar set)
	Sidecar string // a sidecar's capacity
	Limit   int64  // the quota or capacity
	Live    int64  // live revocations counted against it now
	Asked   int64  // what the request would add
}

func (e *BudgetError) Error() string {
	const hint = "; to revoke a large scope, revoke its realm, user or consent: an issued-before rule is one entry"
	if e.Sidecar != "" {
		return fmt.Sprintf("revoking %d more tokens would take sidecar [%s] past its capacity of %d live revocations (%d live now)%s",
			e.Asked, e.Sidecar, e.Limit, e.Live, hint)
	}
	return fmt.Sprintf("realm [%s] may hold at most %d live revocations (%d live now, %d more asked)%s",
		e.Realm, e.Limit, e.Live, e.Asked, hint)
}

// Is makes errors.Is(err, ErrOverBudget) true.
func (e *BudgetError) Is(target error) bool { return target == ErrOverBudget }

// Quotas bound the live revocations (token revocations and issued-before
// rules) each realm may hold.
type Quotas struct {
	PerRealm map[string]int64 // realm name → quota
	Default  int64            // every other realm, including the unknown one; 0: none
}

// SidecarLoad is what a live sidecar reported of its deny-cache.
type SidecarLoad struct {
	ID       string
	Capacity int64
	Entries  int64
}

// Ask is what a request would add to one realm.
type Ask struct {
	Realm  string
	Tokens int64
	Rules  int64
}

type counts struct{ tokens, rules int64 }

func (c counts) sum() int64 { return c.tokens + c.rules }

// Budget counts the live revocations of every realm from the ledger stream
// (one mark per revoked token and per rule, with its realm's key and its
// TTL) and refuses a request that would exceed a realm's quota or take a live
// sidecar past its capacity. The counts come from the stream, so a restarted
// front knows them; requests in flight hold a reservation until the ledger
// marks they wrote have been counted. Safe for concurrent use.
type Budget struct {
	quotas   map[string]int64  // realm key → quota
	names    map[string]string // realm key → name, for messages
	defQuota int64
	loads    func() []SidecarLoad
	now      func() time.Time

	mu       sync.Mutex
	ready    bool
	seenSeq  uint64
	live     map[string]counts
	leaving  map[int64]map[string]counts // Unix second → realm key → marks expiring then
	reserved map[string]counts
	pending  []pendingRelease
}

type pendingRelease struct {
	r   *Reservation
	seq uint64
}

// NewBudget returns a budget; loads returns the live sidecars' reports (nil:
// no capacity check).
func NewBudget(q Quotas, loads func() []SidecarLoad) *Budget {
	b := &Budget{quotas: map[string]int64{}, names: map[string]string{}, defQuota: q.Default, loads: loads,
		now: time.Now, live: map[string]counts{}, leaving: map[int64]map[string]counts{}, reserved: map[string]counts{}}
	for name, n := range q.PerRealm {
		b.quotas[events.RealmKey(name)] = n
		b.names[events.RealmKey(name)] = name
	}
	return b
}

// Reservation is what one request holds until its ledger marks are counted.
type Reservation struct {
	asks map[string]counts
}

// Reserve checks the request's asks against every limit and holds them. It
// fails with ErrUnavailable until the ledger has been counted.
func (b *Budget) Reserve(asks []Ask) (*Reservation, error) {
	if b == nil {
		return nil, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready {
		return nil, fmt.Errorf("%w: still counting the live revocations in the ledger", ErrUnavailable)
	}
	b.expireLocked(b.now())
	r := &Reservation{asks: map[string]counts{}}
	var tokens int64
	for _, a := range asks {
		k := events.RealmKey(a.Realm)
		c := r.asks[k]
		c.tokens += a.Tokens
		c.rules += a.Rules
		r.asks[k] = c
		tokens += a.Tokens
	}
	keys := make([]string, 0, len(r.asks))
	for k := range r.asks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		quota, ok := b.quotas[k]
		if !ok {
			quota = b.defQuota
		}
		live := b.live[k].sum() + b.reserved[k].sum()
		if ask := r.asks[k].sum(); quota > 0 && ask > 0 && live+ask > quota {
			name := b.names[k]
			if name == "" {
				name = realmName(asks, k)
			}
			return nil, &BudgetError{Realm: name, Limit: quota, Live: live, Asked: ask}
		}
	}
	if tokens > 0 && b.loads != nil {
		var counted, reserved int64
		for _, c := range b.live {
			counted += c.tokens
		}
		for _, c := range b.reserved {
			reserved += c.tokens
		}
		for _, l := range b.loads() {
			if l.Capacity <= 0 {
				continue
			}
			// A sidecar may hold more than the ledger counts (spellings
			// revoked with a token, revocations whose mark failed).
			live := max(counted, l.Entries) + reserved
			if live+tokens > l.Capacity {
				return nil, &BudgetError{Sidecar: l.ID, Limit: l.Capacity, Live: live, Asked: tokens}
			}
		}
	}
	for k, c := range r.asks {
		cur := b.reserved[k]
		b.reserved[k] = counts{cur.tokens + c.tokens, cur.rules + c.rules}
	}
	return r, nil
}

func realmName(asks []Ask, key string) string {
	for _, a := range asks {
		if events.RealmKey(a.Realm) == key {
			return a.Realm
		}
	}
	return key
}

// Release gives a reservation back once the ledger stream has been counted
// up to seq, the request's last ledger mark (0: it wrote none).
func (b *Budget) Release(r *Reservation, seq uint64) {
	if b == nil || r == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq == 0 || seq <= b.seenSeq {
		b.releaseLocked(r)
		return
	}
	b.pending = append(b.pending, pendingRelease{r, seq})
}

func (b *Budget) releaseLocked(r *Reservation) {
	for k, c := range r.asks {
		cur := b.reserved[k]
		cur.tokens -= c.tokens
		cur.rules -= c.rules
		if cur == (counts{}) {
			delete(b.reserved, k)
		} else {
			b.reserved[k] = cur
		}
	}
}

// count records one ledger mark at seq: a token's or a rule's, of realm
// key, leaving the ledger at expires.
func (b *Budget) count(seq uint64, realmKey string, rule bool, expires time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seenSeq = max(b.seenSeq, seq)
	if expires.After(b.now()) {
		one := counts{tokens: 1}
		if rule {
			one = counts{rules: 1}
		}
		c := b.live[realmKey]
		b.live[realmKey] = counts{c.tokens + one.tokens, c.rules + one.rules}
		sec := expires.Unix() + 1
		if b.leaving[sec] == nil {
			b.leaving[sec] = map[string]counts{}
		}
		l := b.leaving[sec][realmKey]
		b.leaving[sec][realmKey] = counts{l.tokens + one.tokens, l.rules + one.rules}
	}
	kept := b.pending[:0]
	for _, p := range b.pending {
		if p.seq <= b.seenSeq {
			b.releaseLocked(p.r)
		} else {
			kept = append(kept, p)
		}
	}
	b.pending = kept
}

// expireLocked forgets the marks whose TTL has passed.
func (b *Budget) expireLocked(now time.Time) {
	for sec, realms := range b.leaving {
		if sec > now.Unix() {
			continue
		}
		for k, c := range realms {
			cur := b.live[k]
			cur.tokens -= c.tokens
			cur.rules -= c.rules
			if cur.tokens <= 0 && cur.rules <= 0 {
				delete(b.live, k)
			} else {
				b.live[k] = cur
			}
		}
		delete(b.leaving, sec)
	}
}

// setReady marks the ledger counted (or, false, being recounted).
func (b *Budget) setReady(ready bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready = ready
}

// restart forgets every count before the ledger is counted again.
func (b *Budget) restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready, b.seenSeq = false, 0
	b.live, b.leaving = map[string]counts{}, map[int64]map[string]counts{}
	for _, p := range b.pending {
		b.releaseLocked(p.r)
	}
	b.pending = nil
}

// Ready reports whether the ledger has been counted.
func (b *Budget) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ready
}

// Live returns the live token revocations and rules counted in every realm.
func (b *Budget) Live() (tokens, rules int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked(b.now())
	for _, c := range b.live {
		tokens += c.tokens
		rules += c.rules
	}
	return tokens, rules
}
