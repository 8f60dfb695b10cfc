package ssf

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

// seenKey names a signal for replay protection: its kind (set, logout),
// issuer and jti, length-prefixed and hashed.
func seenKey(kind, iss, jti string) events.Sum {
	h := sha256.New()
	h.Write([]byte("revocast-seen\x00"))
	var n [4]byte
	for _, f := range []string{kind, iss, jti} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var s events.Sum
	h.Sum(s[:0])
	return s
}

// replayLedger records applied signals in the ledger stream
// (events.LedgerSeenSubject), written only if absent, with a TTL past which
// the signal can no longer affect a live token. The front's identity may
// write ledger subjects and read ledger messages: no new grant.
type replayLedger struct {
	js     jetstream.JetStream
	store  publisher.Store
	ledger string

	mu     sync.Mutex
	stream jetstream.Stream
}

func (l *replayLedger) handle(ctx context.Context) (jetstream.Stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stream != nil {
		return l.stream, nil
	}
	st, err := l.js.Stream(ctx, l.ledger)
	if err != nil {
		return nil, fmt.Errorf("ledger stream %s: %w", l.ledger, err)
	}
	l.stream = st
	return st, nil
}

// seen reports whether the signal named key was applied before.
func (l *replayLedger) seen(ctx context.Context, key events.Sum) (bool, error) {
	st, err := l.handle(ctx)
	if err != nil {
		return false, err
	}
	_, err = st.GetLastMsgForSubject(ctx, events.LedgerSeenSubject(key))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	}
	return false, fmt.Errorf("replay record: %w", err)
}

// mark records the signal named key as applied until until.
func (l *replayLedger) mark(ctx context.Context, key events.Sum, until time.Time) error {
	o := l.store.Append(ctx, []publisher.Entry{{Subject: events.LedgerSeenSubject(key), ExpiresAt: until, Stream: l.ledger,
		MsgID: "seen." + key.String(), OnlyIfAbsent: true}})
	if o[0].Status == publisher.Failed {
		return fmt.Errorf("replay record: %w", o[0].Err)
	}
	return nil
}
