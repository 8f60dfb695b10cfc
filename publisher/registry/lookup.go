package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

// Bounds of one Lookup.
const (
	maxLookupRealms  = 64 // realms named in one scoped Lookup
	maxLookupRecords = 64 // records one cross-realm Lookup returns
)

// Lookup implements publisher.Registry. Named realms are read with one
// get each (the fast path: about 70 µs here); no realms lists the token's
// records in every realm with one batched direct get of t.*.<token> and the
// legacy key (BenchmarkLookup; a filtered watch, which creates and deletes a
// consumer on the server, took 0.9 ms on a bucket of 10,000 tokens and
// 1.9 ms at 100,000).
//
// Migration: versions before realm-scoped records kept one record per token
// at t.<token>. Such a record is still read, as its realm's record when that
// realm has none of its own, so a token registered before an upgrade keeps
// its details until it expires (at most --max-token-lifetime later). The
// fallback read can go once every front has run this version that long.
//
// A reply can be lost (a dropped acknowledgement, a server failing over)
// and is not waited for past lookupAttempt: the read is retried with
// backoff until the store's timeout.
func (s *Store) Lookup(ctx context.Context, sum events.Sum, realms []string) ([]publisher.Record, error) {
	if len(realms) > maxLookupRealms {
		return nil, fmt.Errorf("registry lookup: %d realms, at most %d", len(realms), maxLookupRealms)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(50*time.Millisecond),
		backoff.WithMaxInterval(time.Second), backoff.WithMaxElapsedTime(0))
	for {
		actx, acancel := context.WithTimeout(ctx, lookupAttempt)
		out, err := s.lookupOnce(actx, sum, realms)
		acancel()
		if err == nil {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(bo.NextBackOff()):
		}
	}
}

// lookupAttempt bounds one attempt of a Lookup: a get takes about 70 µs, a
// watch over 100,000 tokens about 2 ms.
const lookupAttempt = 500 * time.Millisecond

func (s *Store) lookupOnce(ctx context.Context, sum events.Sum, realms []string) ([]publisher.Record, error) {
	if len(realms) == 0 {
		return s.lookupEverywhere(ctx, sum)
	}
	now := time.Now()
	var out []publisher.Record
	missing := map[string]bool{}
	for _, realm := range realms {
		if missing[realm] || hasRealm(out, realm) {
			continue // named twice
		}
		r, err := s.get(ctx, realmRecordKey(realm, sum))
		if err != nil {
			return nil, err
		}
		if r != nil && r.Realm == realm && r.ExpiresAt.After(now) { // the key's hash is only 128 bits
			out = append(out, *r)
		} else {
			missing[realm] = true
		}
	}
	if len(missing) > 0 {
		r, err := s.get(ctx, legacyRecordKey(sum))
		if err != nil {
			return nil, err
		}
		if r != nil && missing[r.Realm] && r.ExpiresAt.After(now) {
			out = append(out, *r)
		}
	}
	return out, nil
}

// get reads one record; nil when there is none or it is unreadable.
func (s *Store) get(ctx context.Context, key string) (*publisher.Record, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry lookup: %w", err)
	}
	r, err := decode(e.Value())
	if err != nil {
		return nil, nil // an unreadable record is no record
	}
	return &r, nil
}

// lookupEverywhere returns the live records of a token in every realm, at
// most maxLookupRecords; a legacy record only for a realm without a record
// of its own. One batched direct get reads them all (about as dear as one
// get); a token with more records than that returns takes the watch.
func (s *Store) lookupEverywhere(ctx context.Context, sum events.Sum) ([]publisher.Record, error) {
	now := time.Now()
	var out []publisher.Record
	var legacy *publisher.Record
	err := s.multi.get(ctx, []string{s.prefix + anyRealmKey(sum), s.prefix + legacyRecordKey(sum)}, maxLookupRecords+1,
		func(subject string, h nats.Header, data []byte) {
			if op := h.Get("KV-Operation"); op != "" { // a deleted or purged record
				return
			}
			r, err := decode(data)
			if err != nil || r.Sum != sum || !r.ExpiresAt.After(now) {
				return
			}
			switch strings.TrimPrefix(subject, s.prefix) {
			case realmRecordKey(r.Realm, sum):
				out = append(out, r)
			case legacyRecordKey(sum):
				legacy = &r
			}
		})
	if errors.Is(err, errTooMany) {
		return s.watchEverywhere(ctx, sum)
	}
	if err != nil {
		return nil, err
	}
	if len(out) > maxLookupRecords {
		out = out[:maxLookupRecords]
	}
	if legacy != nil && !hasRealm(out, legacy.Realm) && len(out) < maxLookupRecords {
		out = append(out, *legacy)
	}
	return out, nil
}

// watchEverywhere is lookupEverywhere for a token with more records than a
// batched read returns: in registration order, at most maxLookupRecords.
// The legacy key is read apart: a watch with two filters cost the server a
// scan of the whole bucket (measured: 216 ms at 100,000 tokens, against
// 2 ms for one filter).
func (s *Store) watchEverywhere(ctx context.Context, sum events.Sum) ([]publisher.Record, error) {
	w, err := s.kv.Watch(ctx, anyRealmKey(sum), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("registry lookup: %w", err)
	}
	// Stopping deletes the watch's consumer and waits for the answer up to
	// the client's JetStream timeout (5 s), whatever ctx says: a lost
	// answer must not hold the request, so it stops on its own.
	defer func() { go func() { _ = w.Stop() }() }()
	now := time.Now()
	var out []publisher.Record
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("registry lookup: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("registry lookup: watcher closed")
			}
			if e == nil { // every current record delivered
				return s.withLegacy(ctx, out, sum, now)
			}
			r, err := decode(e.Value())
			if err == nil && r.Sum == sum && r.ExpiresAt.After(now) && e.Key() == realmRecordKey(r.Realm, sum) &&
				len(out) < maxLookupRecords { // (every record is read, so the watcher never blocks)
				out = append(out, r)
			}
		}
	}
}

// withLegacy adds the token's legacy record when its realm has no record of
// its own.
func (s *Store) withLegacy(ctx context.Context, out []publisher.Record, sum events.Sum, now time.Time) ([]publisher.Record, error) {
	r, err := s.get(ctx, legacyRecordKey(sum))
	if err != nil {
		return nil, err
	}
	if r != nil && r.Sum == sum && r.ExpiresAt.After(now) && !hasRealm(out, r.Realm) && len(out) < maxLookupRecords {
		out = append(out, *r)
	}
	return out, nil
}

func hasRealm(recs []publisher.Record, realm string) bool {
	for i := range recs {
		if recs[i].Realm == realm {
			return true
		}
	}
	return false
}

// Find implements publisher.Registry: a filtered watch delivers every index
// entry of the scope, then nil. A token registered twice (identically) is
// in two entries: it is returned once.
func (s *Store) Find(ctx context.Context, sc publisher.Scope) ([]publisher.Record, error) {
	w, err := s.kv.Watch(ctx, scopeFilter(sc), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("registry find: %w", err)
	}
	// Stopping deletes the watch's consumer and waits for the answer up to
	// the client's JetStream timeout (5 s), whatever ctx says: a lost
	// answer must not hold the request, so it stops on its own.
	defer func() { go func() { _ = w.Stop() }() }()
	now := time.Now()
	var out []publisher.Record
	seen := map[events.Sum]bool{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("registry find: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("registry find: watcher closed")
			}
			if e == nil {
				return out, nil // every current value delivered
			}
			recs, err := decodeBatch(e.Value())
			if err != nil {
				continue
			}
			for i := range recs {
				r := &recs[i]
				if r.ExpiresAt.After(now) && inScope(r, sc) && !seen[r.Sum] {
					seen[r.Sum] = true
					out = append(out, *r)
				}
			}
		}
	}
}
