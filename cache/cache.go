package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cenkalti/backoff/v4"
	"github.com/dgraph-io/ristretto/v2"

	"github.com/revocast/revocast/events"
)

// Defaults.
const (
	// DefaultCapacity is the default number of live revocations the cache
	// holds. Size it above the worst case: about 220 bytes of heap per entry
	// (ristretto's store, policy and expiry index: BenchmarkLoadMillion)
	// plus a fixed 1.6 MiB per million of capacity.
	DefaultCapacity = 1_000_000
	// MaxCapacity is the largest capacity New accepts: 100 million live
	// revocations are about 22 GB of heap when full. A larger one is a typo,
	// and its fixed structures alone would ask the runtime for terabytes.
	MaxCapacity = 100_000_000
	// DefaultMaxAttempts is how many times an entry is offered before Add
	// gives up on it.
	DefaultMaxAttempts = 10
)

// Errors.
var (
	// ErrNotAdmitted: the cache refused an entry on every attempt.
	ErrNotAdmitted = errors.New("deny-cache did not admit the entry")
	// ErrCapacityExhausted: an unexpired entry was evicted to make room.
	ErrCapacityExhausted = errors.New("deny-cache capacity exhausted: an unexpired revocation was evicted")
	// ErrFull: the cache holds Capacity live entries; a new one is refused
	// rather than evicting another.
	ErrFull = errors.New("deny-cache full")
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("deny-cache closed")
)

// Entry is one revoked token: its hash and when it stops mattering.
type Entry struct {
	Sum       events.Sum
	ExpiresAt time.Time
}

// Failure is an entry Add could not admit, and why.
type Failure struct {
	Entry Entry
	Err   error
}

// Config configures a DenyCache.
type Config struct {
	// Capacity is the number of live revocations the cache holds
	// (DefaultCapacity when zero). Each costs about 200 bytes.
	Capacity int64
	// MaxAttempts is how many times Add offers an entry (DefaultMaxAttempts when zero).
	MaxAttempts int
	// InitialBackoff is the first pause between attempts (1 ms when zero).
	InitialBackoff time.Duration
	// OnCapacityExhausted, when set, is called (from ristretto's goroutine,
	// so it must not block) each time an unexpired entry is evicted.
	OnCapacityExhausted func(Entry)
}

// Stats are counters for metrics.
type Stats struct {
	Entries            int64 // entries held, expired ones not yet swept included
	Admitted           int64 // entries admitted
	Retries            int64 // entries offered again after a drop or rejection
	Failures           int64 // entries given up on
	UnexpiredEvictions int64 // unexpired entries evicted (capacity exhausted)
}

// DenyCache is the set of revoked token hashes. It is safe for concurrent
// use; Add calls are serialized.
type DenyCache struct {
	cfg    Config
	shards []*ristretto.Cache[string, int64] // key: the 32 bytes of the hash; value: expiry in Unix ns
	shift  uint                              // a key's shard: the top bits of its seeded hash
	addMu  sync.Mutex

	admitted, retries, failures, evictedLive atomic.Int64
	closed, clearing                         atomic.Bool
}

// New returns a DenyCache.
func New(cfg Config) (*DenyCache, error) {
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Capacity < 1 || cfg.Capacity > MaxCapacity {
		return nil, fmt.Errorf("cache: capacity must be 1 to %d, got %d", MaxCapacity, cfg.Capacity)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = time.Millisecond
	}
	d := &DenyCache{cfg: cfg}
	d.shards = make([]*ristretto.Cache[string, int64], shardCount())
	for n := len(d.shards); n > 1; n /= 2 {
		d.shift++
	}
	d.shift = 64 - d.shift
	per := (cfg.Capacity + int64(len(d.shards)) - 1) / int64(len(d.shards))
	for i := range d.shards {
		c, err := ristretto.NewCache(&ristretto.Config[string, int64]{
			// The counters only rank keys for eviction, which Add never
			// needs (it refuses instead): a small sketch, not 10 per entry,
			// keeps the fixed overhead near a megabyte per million.
			NumCounters: max(per/4, 1024),
			// Add never lets more than Capacity entries in, so the
			// policy never has to evict one: the slack absorbs shards
			// filling unevenly (hashes spread them within a fraction of a
			// percent).
			MaxCost:            per + max(per/4, 64),
			BufferItems:        64,
			IgnoreInternalCost: true,
			OnEvict:            d.onEvict,
			KeyToHash:          keyHash,
			// A Set never shortens an entry: a key already held until later
			// keeps its expiry, so Add need not look each key up first.
			ShouldUpdate: func(next, cur int64) bool { return next > cur },
		})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("cache: %w", err)
		}
		d.shards[i] = c
	}
	return d, nil
}

// shardCount is how many ristretto caches share the entries, by their
// seeded hash (keyHash): one per core (a power of two), so a batch's admissions
// run on every core, each cache's own goroutine included.
func shardCount() int {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	return n
}

// shard returns the cache that holds sum: by the top bits of its seeded
// hash (a shift of 64 picks the only one).
func (d *DenyCache) shard(sum *events.Sum) *ristretto.Cache[string, int64] {
	return d.shards[d.shardOf(sum)]
}

func (d *DenyCache) shardOf(sum *events.Sum) int {
	h, _ := keyHash(key(sum))
	return int(h >> d.shift)
}

// key views the hash's bytes as a string without copying. ristretto only
// hashes keys and never keeps them, so the view does not outlive the call.
func key(s *events.Sum) string { return unsafe.String(&s[0], len(s)) }

// seed keys this process's slot hash, unknown outside it.
var seed = maphash.MakeSeed()

// keyHash gives ristretto a key's two 64-bit hashes: the first, seeded per
// process, picks the DenyCache shard (top bits), ristretto's map slot and
// its lock shard; the second tells keys apart that share a slot (bytes 16
// to 23, never 0, which ristretto reads as "no check"). A hash is not
// always a SHA-256 of a token nobody chose: POST /v1/revocations and the
// registry feed take token_sha256 as given, and when the shard was the
// hash's first byte and the slot its bytes 8 to 15, a caller could fill
// one shard past its share (ristretto then evicted live revocations: every
// check of every sidecar failed closed) or aim many keys at one slot (each
// refused, the sidecar unhealthy). The seeded hash cannot be aimed, and a
// slot's keys differ in their own bytes.
func keyHash(k string) (uint64, uint64) {
	h := maphash.String(seed, k)
	if len(k) < 24 {
		return h, maphash.String(seed, k+"\x00") | 1
	}
	return h, (uint64(k[16]) | uint64(k[17])<<8 | uint64(k[18])<<16 | uint64(k[19])<<24 |
		uint64(k[20])<<32 | uint64(k[21])<<40 | uint64(k[22])<<48 | uint64(k[23])<<56) | 1
}

// onEvict runs for expired entries swept by ristretto and for victims of the
// policy. Only the second kind, still unexpired, is a loss.
func (d *DenyCache) onEvict(it *ristretto.Item[int64]) {
	if d.closed.Load() || d.clearing.Load() {
		return // ristretto's Close and Clear evict everything
	}
	if it.Value > time.Now().UnixNano() {
		d.evictedLive.Add(1)
		if d.cfg.OnCapacityExhausted != nil {
			d.cfg.OnCapacityExhausted(Entry{ExpiresAt: time.Unix(0, it.Value)})
		}
	}
}

// keyBufs hold copies of looked-up hashes. ristretto's generic Get converts
// its key to an interface, so escape analysis must assume the key escapes;
// handing it a pooled copy keeps the caller's hash on its stack.
var keyBufs = sync.Pool{New: func() any { return new(events.Sum) }}

// Contains reports whether the token with hash sum is revoked. It does not
// allocate. ristretto answers false once an entry's TTL has passed, and that
// TTL was taken from the entry's expiry before it was set (offer), so its
// deadline is the expiry or a moment later: an entry is never dropped early,
// and reading the clock a second time here (a quarter of a check's time on
// this VM's clock) would only trim that moment.
func (d *DenyCache) Contains(sum events.Sum) bool {
	buf := keyBufs.Get().(*events.Sum)
	*buf = sum
	_, ok := d.shard(buf).Get(key(buf))
	keyBufs.Put(buf)
	return ok
}

// Add admits entries and returns those it could not admit after
// MaxAttempts. An entry already expired is skipped; one already present with
// a later expiry is left as it is. A canceled ctx fails what is left.
func (d *DenyCache) Add(ctx context.Context, entries []Entry) []Failure {
	if d.closed.Load() {
		return failAll(entries, ErrClosed)
	}
	d.addMu.Lock()
	defer d.addMu.Unlock()

	var full []Failure
	todo := d.unexpired(entries)
	if room := d.cfg.Capacity - d.count(); int64(len(todo)) > room {
		// Near capacity: which of them are new decides which are refused.
		todo, full = d.withinCapacity(d.classify(todo), room)
	}
	if len(todo) == 0 {
		return full
	}
	var bo *backoff.ExponentialBackOff // made on the first retry: most Adds need none
	for attempt := 1; ; attempt++ {
		d.offer(todo)
		todo = d.missing(todo)
		if len(todo) == 0 {
			return full
		}
		if attempt == d.cfg.MaxAttempts {
			d.failures.Add(int64(len(todo)))
			return append(full, failPending(todo, fmt.Errorf("%w after %d attempts", ErrNotAdmitted, attempt))...)
		}
		d.retries.Add(int64(len(todo)))
		if bo == nil {
			bo = backoff.NewExponentialBackOff(backoff.WithInitialInterval(d.cfg.InitialBackoff),
				backoff.WithMaxInterval(100*time.Millisecond), backoff.WithMaxElapsedTime(0))
		}
		select {
		case <-ctx.Done():
			d.failures.Add(int64(len(todo)))
			return append(full, failPending(todo, fmt.Errorf("%w: %w", ErrNotAdmitted, ctx.Err()))...)
		case <-time.After(bo.NextBackOff()):
		}
	}
}

// count is how many entries the shards hold: their policies' own count
// (each costs 1), exact once their Sets are processed; expired entries
// count until ristretto's sweep removes them.
func (d *DenyCache) count() int64 {
	var n int64
	for _, c := range d.shards {
		n += c.MaxCost() - c.RemainingCost()
	}
	return n
}

// withinCapacity splits todo into what fits in room and the new entries
// that would take the cache past its capacity, which are refused (ErrFull).
func (d *DenyCache) withinCapacity(todo []pending, room int64) ([]pending, []Failure) {
	fits := todo[:0] // filtered in place: fits never passes the index being read
	var full []Failure
	for _, p := range todo {
		if p.fresh {
			if room <= 0 {
				full = append(full, Failure{Entry: p.Entry, Err: fmt.Errorf("%w: it holds its capacity of %d live revocations", ErrFull, d.cfg.Capacity)})
				continue
			}
			room--
		}
		fits = append(fits, p)
	}
	if len(full) > 0 {
		d.failures.Add(int64(len(full)))
	}
	return fits, full
}

// Capacity returns the number of live entries the cache holds at most.
func (d *DenyCache) Capacity() int64 { return d.cfg.Capacity }

// offer sets every entry, applying back-pressure when ristretto's set buffer
// is full: a false Set waits for the buffer to drain and tries again. Each
// shard's entries are set by a goroutine of their own, so the shards'
// caches admit them in parallel; offer returns once every shard has
// decided (Wait).
func (d *DenyCache) offer(todo []pending) {
	now := time.Now()
	d.eachShard(todo, func(c *ristretto.Cache[string, int64], mine []int) {
		for _, i := range mine {
			e := &todo[i]
			ttl := e.ExpiresAt.Sub(now)
			if ttl <= 0 {
				continue
			}
			for tries := 0; !c.SetWithTTL(key(&e.Sum), e.ExpiresAt.UnixNano(), 1, ttl) && tries < 3; tries++ {
				c.Wait()
			}
		}
		c.Wait()
	})
}

// parallelMin is the smallest batch whose shards are worked on in
// parallel: below it, starting goroutines and waiting for them costs more
// than the work (a sidecar following the stream applies one event at a time).
const parallelMin = 256

// eachShard calls f with every shard that holds entries of todo, and their
// indexes, and returns when all calls have: in parallel for a large batch
// (the calling goroutine takes one shard itself), one after the other for
// a small one.
func (d *DenyCache) eachShard(todo []pending, f func(c *ristretto.Cache[string, int64], mine []int)) {
	if len(d.shards) == 1 {
		all := make([]int, len(todo))
		for i := range all {
			all[i] = i
		}
		f(d.shards[0], all)
		return
	}
	shardOf := make([]int, len(todo)) // each entry's shard, hashed once
	for i := range todo {
		shardOf[i] = d.shardOf(&todo[i].Sum)
	}
	if len(todo) < parallelMin {
		mine := make([]int, 0, len(todo))
		var done uint64 // shards already worked on (at most 64)
		for i, k := range shardOf {
			if done&(1<<k) != 0 {
				continue
			}
			done |= 1 << k
			mine = mine[:0]
			for j := i; j < len(todo); j++ {
				if shardOf[j] == k {
					mine = append(mine, j)
				}
			}
			f(d.shards[k], mine)
		}
		return
	}
	by := make([][]int, len(d.shards))
	for i, k := range shardOf {
		by[k] = append(by[k], i)
	}
	var wg sync.WaitGroup
	last := -1
	for k, mine := range by {
		if len(mine) == 0 {
			continue
		}
		if last >= 0 {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				f(d.shards[k], by[k])
			}(last)
		}
		last = k
	}
	if last >= 0 {
		f(d.shards[last], by[last])
	}
	wg.Wait()
}

// unexpired returns the entries to offer: those not expired yet.
func (d *DenyCache) unexpired(entries []Entry) []pending {
	now := time.Now()
	out := make([]pending, 0, len(entries))
	for _, e := range entries {
		if e.ExpiresAt.After(now) {
			out = append(out, pending{Entry: e})
		}
	}
	return out
}

// classify drops the entries already present with at least their expiry
// and marks the others absent (fresh) or present. Each shard's are looked
// up in parallel.
func (d *DenyCache) classify(todo []pending) []pending {
	keep := make([]bool, len(todo))
	d.eachShard(todo, func(c *ristretto.Cache[string, int64], mine []int) {
		for _, i := range mine {
			p := &todo[i]
			cur, present := c.Get(key(&p.Sum))
			if present && cur >= p.ExpiresAt.UnixNano() {
				continue
			}
			p.fresh, keep[i] = !present, true
		}
	})
	out := todo[:0]
	for i := range todo {
		if keep[i] {
			out = append(out, todo[i])
		}
	}
	return out
}

// missing returns the entries that are not in the cache with at least their
// expiry, verifying each shard's in parallel.
func (d *DenyCache) missing(todo []pending) []pending {
	now := time.Now()
	lost := make([]bool, len(todo))
	d.eachShard(todo, func(c *ristretto.Cache[string, int64], mine []int) {
		var admitted int64
		for _, i := range mine {
			e := &todo[i]
			if !e.ExpiresAt.After(now) {
				continue
			}
			if exp, ok := c.Get(key(&e.Sum)); ok && exp >= e.ExpiresAt.UnixNano() {
				admitted++
				continue
			}
			lost[i] = true
		}
		d.admitted.Add(admitted)
	})
	out := todo[:0]
	for i := range todo {
		if lost[i] {
			out = append(out, todo[i])
		}
	}
	return out
}

// pending is an entry on its way in; fresh when its key was found absent
// (classify, near capacity only).
type pending struct {
	Entry
	fresh bool
}

func failPending(todo []pending, err error) []Failure {
	out := make([]Failure, len(todo))
	for i, p := range todo {
		out[i] = Failure{Entry: p.Entry, Err: err}
	}
	return out
}

func failAll(entries []Entry, err error) []Failure {
	out := make([]Failure, len(entries))
	for i, e := range entries {
		out[i] = Failure{Entry: e, Err: err}
	}
	return out
}

// Clear removes every entry and forgets past evictions (a sidecar's
// rebuild, which replays every live revocation into the empty cache).
func (d *DenyCache) Clear() {
	if d.closed.Load() {
		return
	}
	d.addMu.Lock()
	defer d.addMu.Unlock()
	d.clearing.Store(true)
	for _, c := range d.shards {
		c.Clear()
	}
	d.clearing.Store(false)
	d.evictedLive.Store(0)
}

// Health returns ErrCapacityExhausted once an unexpired entry has been evicted.
func (d *DenyCache) Health() error {
	if n := d.evictedLive.Load(); n > 0 {
		return fmt.Errorf("%w (%d so far): raise the cache capacity", ErrCapacityExhausted, n)
	}
	return nil
}

// Stats returns the counters.
func (d *DenyCache) Stats() Stats {
	return Stats{Entries: d.count(), Admitted: d.admitted.Load(), Retries: d.retries.Load(),
		Failures: d.failures.Load(), UnexpiredEvictions: d.evictedLive.Load()}
}

// Close releases the cache. It is idempotent; Contains answers false afterwards.
func (d *DenyCache) Close() {
	if d.closed.CompareAndSwap(false, true) {
		for _, c := range d.shards {
			if c != nil {
				c.Close()
			}
		}
	}
}
