package ssf

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
)

// errCodeWrongLastSeq: the subject does not hold the sequence the publish
// expected (someone else holds the lease).
const errCodeWrongLastSeq jetstream.ErrorCode = 10071

// lease makes one front at a time the poller of a transmitter. It is one
// message on the ledger stream (events.LedgerLeaseSubject), written only
// if the subject is empty (acquire) or still holds our last write (renew),
// with a per-message TTL: a front that stops renewing (killed, cut off)
// loses it when the message expires, and another takes over. The front's
// NATS identity already may publish ledger subjects with expected
// sequences: no new grant.
type lease struct {
	js      jetstream.JetStream
	ledger  string
	subject string
	holder  string
	ttl     time.Duration
	log     zerolog.Logger
	onHeld  func(bool)
}

func newLease(js jetstream.JetStream, ledger, name, holder string, ttl time.Duration, log zerolog.Logger, onHeld func(bool)) *lease {
	return &lease{js: js, ledger: ledger, subject: events.LedgerLeaseSubject("poll " + name), holder: holder, ttl: ttl,
		log: log, onHeld: onHeld}
}

// write publishes the lease if the subject's last sequence is expect (0:
// empty) and returns the new sequence; held is false when another front
// holds it.
func (l *lease) write(ctx context.Context, expect uint64, ttl time.Duration) (seq uint64, held bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	m := nats.NewMsg(l.subject)
	m.Data = []byte(l.holder)
	ack, err := l.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(expect),
		jetstream.WithExpectStream(l.ledger), jetstream.WithMsgTTL(ttl))
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return ack.Sequence, true, nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeWrongLastSeq:
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("poll lease: %w", err)
}

// run calls lead with a context that lives while this front holds the
// lease, as often as it gets it, until ctx is done.
func (l *lease) run(ctx context.Context, lead func(context.Context)) {
	every := l.ttl / 3
	for ctx.Err() == nil {
		seq, held, err := l.write(ctx, 0, l.ttl)
		if err != nil {
			l.log.Warn().Err(err).Msg("cannot take the poll lease")
		}
		if !held {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
			continue
		}
		l.hold(ctx, seq, lead)
	}
}

// hold runs lead while renewing the lease from seq; lead's context ends
// when the lease cannot be renewed before it would expire.
func (l *lease) hold(ctx context.Context, seq uint64, lead func(context.Context)) {
	l.log.Info().Msg("poll lease taken: this front polls the transmitter")
	l.onHeld(true)
	defer l.onHeld(false)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(lctx)
	}()
	renewed := time.Now()
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-done:
			cancel()
			l.release(seq)
			return
		case <-ctx.Done():
			cancel()
			<-done
			l.release(seq)
			return
		case <-tick.C:
		}
		next, held, err := l.write(ctx, seq, l.ttl)
		switch {
		case held:
			seq, renewed = next, time.Now()
			continue
		case err == nil:
			l.log.Warn().Msg("poll lease lost to another front: no longer polling")
		case time.Since(renewed) < l.ttl*2/3:
			l.log.Warn().Err(err).Msg("cannot renew the poll lease; retrying")
			continue
		default:
			l.log.Warn().Err(err).Msg("poll lease not renewed in time: no longer polling")
		}
		cancel()
		<-done
		return
	}
}

// release lets the lease expire within a second, so another front need
// not wait its whole TTL (a front may not delete ledger messages).
func (l *lease) release(seq uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
	defer cancel()
	if _, _, err := l.write(ctx, seq, events.MinMsgTTL); err != nil {
		l.log.Debug().Err(err).Msg("poll lease not released: it expires on its own")
	}
	l.log.Info().Msg("poll lease released")
}
