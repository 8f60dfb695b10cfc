package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/publisher"
)

// loadRevocations stores n live token revocations in the revocation stream
// the way a front stores a bulk revocation: batch events of up to
// events.MaxBatch tokens, encoded by the events package, appended by the
// publisher's JetStream store (message ids, per-message TTLs, the
// expected-stream header, retries), as the front role. token(i) is the i-th
// revoked token; it returns the number of messages stored.
func (e *env) loadRevocations(ctx context.Context, n int, token func(i int) string) (int, error) {
	nc, err := e.connect(natsauth.Front, "", e.creds(natsauth.Front))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	store, err := publisher.NewJetStreamStore(nc, time.Minute, publisher.StoreMetrics{})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	now := time.Now()
	exp := now.Add(time.Hour)
	reqID := "bench" + strconv.FormatInt(now.UnixNano(), 36)
	// The store pipelines each call; a few hundred batch events (a hundred
	// thousand revocations) per call keep it busy without holding the whole
	// load in memory at once.
	const perCall = 200
	msgs := 0
	entries := make([]publisher.Entry, 0, perCall)
	flush := func() error {
		if len(entries) == 0 {
			return nil
		}
		for k, o := range store.Append(ctx, entries) {
			if o.Status != publisher.Stored {
				return fmt.Errorf("load: batch %s: %s: %w", entries[k].Subject, o.Status, o.Err)
			}
		}
		msgs += len(entries)
		entries = entries[:0]
		return nil
	}
	for b, from := 0, 0; from < n; b, from = b+1, from+events.MaxBatch {
		to := min(from+events.MaxBatch, n)
		items := make([]events.TokenItem, 0, to-from)
		for i := from; i < to; i++ {
			items = append(items, events.TokenItem{Token: events.TokenKey(token(i)), TokenType: events.AccessToken, ExpiresAt: exp})
		}
		ev := events.NewTokenBatch(reqID, b, items, now)
		ev.Origin = "revocast-bench"
		en, err := publisher.EventEntry(ev, events.DefaultStreamName, reqID+".batch."+strconv.Itoa(b))
		if err != nil {
			return msgs, fmt.Errorf("load: %w", err)
		}
		entries = append(entries, en)
		if len(entries) == perCall {
			if err := flush(); err != nil {
				return msgs, err
			}
		}
	}
	return msgs, flush()
}
