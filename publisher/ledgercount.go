package publisher

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
)

// errLedgerChanged: the ledger stream was deleted, re-created or purged.
var errLedgerChanged = errors.New("the ledger stream changed under the count")

// Follow counts the ledger stream named ledger into the budget until ctx is
// done: it replays every live mark (headers only), then follows new ones.
// When the stream is deleted, re-created or purged it starts over, failing
// Reserve meanwhile.
func (b *Budget) Follow(ctx context.Context, js jetstream.JetStream, ledger string, log zerolog.Logger) {
	for {
		err := b.followOnce(ctx, js, ledger)
		if ctx.Err() != nil {
			return
		}
		b.restart()
		log.Warn().Err(err).Str("stream", ledger).Msg("counting the live revocations again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (b *Budget) followOnce(ctx context.Context, js jetstream.JetStream, ledger string) error {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := js.Stream(c, ledger)
	if err != nil {
		return fmt.Errorf("ledger stream %s: %w", ledger, err)
	}
	info, err := st.Info(c)
	if err != nil {
		return fmt.Errorf("ledger stream %s: %w", ledger, err)
	}
	created, last := info.Created, info.State.LastSeq
	if info.State.Msgs == 0 {
		b.setReady(true)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		return fmt.Errorf("ledger consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		if !events.IsLedgerCounted(m.Subject()) {
			// Probes, replay records and leases: counts nothing, moves the sequence.
			b.count(meta.Sequence.Stream, "", false, time.Time{})
		} else {
			ttl := parseTTL(m.Headers().Get(jetstream.MsgTTLHeader))
			b.count(meta.Sequence.Stream, m.Headers().Get(events.LedgerRealmHeader), events.IsLedgerRule(m.Subject()),
				meta.Timestamp.Add(ttl))
		}
		if meta.NumPending == 0 || meta.Sequence.Stream >= last {
			b.setReady(true)
		}
	})
	if err != nil {
		return fmt.Errorf("ledger consumer: %w", err)
	}
	defer cc.Stop()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := b.watch(ctx, st, cons, created); err != nil {
			return err
		}
	}
}

// watch notices a ledger that is not the one being counted, and marks the
// count ready once nothing is left to deliver (marks may expire before they
// are delivered).
func (b *Budget) watch(ctx context.Context, st jetstream.Stream, cons jetstream.Consumer, created time.Time) error {
	// What was counted before the question is in the ledger the answer
	// describes; read after it, a mark stored and counted meanwhile looked
	// like a ledger that lost it, and every request answered 503 while the
	// ledger was counted again (seen under steady load on a cluster).
	b.mu.Lock()
	seen := b.seenSeq
	b.mu.Unlock()
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := st.Info(c)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return errLedgerChanged
	case err != nil:
		return nil // unreachable for now: keep counting what arrives
	case !info.Created.Equal(created):
		return errLedgerChanged
	}
	if info.State.LastSeq < seen {
		return errLedgerChanged
	}
	if ci, err := cons.Info(c); err == nil && ci.NumPending == 0 && ci.Delivered.Stream >= seen {
		b.setReady(true)
	}
	return nil
}

// parseTTL reads a Nats-TTL header ("3600s", or seconds); an unreadable one
// counts as the longest lifetime.
func parseTTL(v string) time.Duration {
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		return time.Duration(n) * time.Second
	}
	return events.DefaultMaxTokenLifetime
}
