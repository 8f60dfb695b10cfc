package publisher

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// Store appends revocation events durably. Implementations must be safe for
// concurrent use.
type Store interface {
	// Append stores every entry and reports, for each, whether it was stored,
	// was already present (OnlyIfAbsent and the subject holds a revocation),
	// or failed after retries. It never reports Stored for an entry that is
	// not durably stored.
	Append(ctx context.Context, entries []Entry) []Outcome
}

// Entry is one message to append: an encoded event, or a ledger mark.
type Entry struct {
	Subject   string
	Data      []byte
	ExpiresAt time.Time // it leaves the stream then (per-message TTL)
	// Stream is the stream it must land in (checked by the server).
	Stream string
	// MsgID deduplicates retries: a retried publish with the same id is stored once.
	MsgID string
	// OnlyIfAbsent stores it only when its subject holds no message, which
	// is how "already revoked" is decided by the ledger itself.
	OnlyIfAbsent bool
	// Header holds extra message headers (a ledger mark's realm key).
	Header map[string]string
}

// EventEntry encodes an event for the revocation stream.
func EventEntry(ev events.Event, stream, msgID string) (Entry, error) {
	b, err := ev.Encode()
	if err != nil {
		return Entry{}, err
	}
	return Entry{Subject: ev.Subject(), Data: b, ExpiresAt: ev.ExpiresAt, Stream: stream, MsgID: msgID}, nil
}

// LedgerEntry is the ledger mark of a token of realm revoked until
// expiresAt: stored only if the token's ledger subject is empty.
func LedgerEntry(sum events.Sum, realm string, expiresAt time.Time, ledgerStream, msgID string) Entry {
	return Entry{Subject: events.LedgerSubject(sum), ExpiresAt: expiresAt, Stream: ledgerStream, MsgID: msgID, OnlyIfAbsent: true,
		Header: map[string]string{events.LedgerRealmHeader: events.RealmKey(realm)}}
}

// LedgerRuleEntry is the ledger mark of a rule until expiresAt (the latest
// wins), which counts it against its realm's quota.
func LedgerRuleEntry(r events.Rule, expiresAt time.Time, ledgerStream, msgID string) Entry {
	return Entry{Subject: events.LedgerRuleSubject(r.Key()), ExpiresAt: expiresAt, Stream: ledgerStream, MsgID: msgID,
		Header: map[string]string{events.LedgerRealmHeader: events.RealmKey(r.Realm)}}
}

// Status of one appended entry.
type Status int

// Statuses.
const (
	Failed Status = iota
	Stored
	AlreadyPresent
)

func (s Status) String() string {
	return [...]string{"failed", "stored", "already_present"}[s]
}

// Outcome of one appended entry.
type Outcome struct {
	Status Status
	// Seq is the stream sequence it was stored at (0 when unknown, e.g.
	// already present or stored by an earlier attempt).
	Seq uint64
	Err error // for Failed
}

// Error codes JetStream answers that are not failures here.
const (
	errCodeWrongLastSeq         jetstream.ErrorCode = 10071 // subject already holds a message
	errCodeWrongLastSeqConstant jetstream.ErrorCode = 10164 // the same, on a replicated stream
	errCodeDuplicateInProcess   jetstream.ErrorCode = 10158 // our own retry is being stored
)

// StoreMetrics receives the store's counts; nil fields are ignored.
type StoreMetrics struct {
	Retries  func(n int)
	Failures func(n int)
}

// JetStreamStore is the Store on JetStream.
type JetStreamStore struct {
	js      jetstream.JetStream
	pipe    *Pipeline
	timeout time.Duration
	metrics StoreMetrics

	// health: the last Append's failure, cleared by any message stored
	// since (readiness says why publishing fails: a full disk, no leader).
	failedAt atomic.Int64 // Unix ns of the last failure; 0: none since the last success
	failure  atomic.Pointer[error]
}

// Health is nil unless the last messages offered could not be stored, with
// nothing stored since: then the reason.
func (s *JetStreamStore) Health() error {
	if at := s.failedAt.Load(); at != 0 {
		if err := s.failure.Load(); err != nil {
			return fmt.Errorf("publishing has failed since %s: %w", time.Unix(0, at).UTC().Format(time.RFC3339), *err)
		}
	}
	return nil
}

// NewJetStreamStore returns a store publishing over nc; each Append retries
// failed publishes with exponential backoff for up to timeout (the
// --publish-timeout).
func NewJetStreamStore(nc *nats.Conn, timeout time.Duration, m StoreMetrics) (*JetStreamStore, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	pipe, err := NewPipeline(nc, 0)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &JetStreamStore{js: js, pipe: pipe, timeout: timeout, metrics: m}, nil
}

// Close releases the store's subscription.
func (s *JetStreamStore) Close() { s.pipe.Close() }

// Append implements Store. Every entry is published asynchronously; those
// that fail for a transient reason are retried with the same message id
// until the publish timeout, so a publish whose acknowledgement was lost is
// stored once and recognized as ours.
func (s *JetStreamStore) Append(ctx context.Context, entries []Entry) []Outcome {
	out := make([]Outcome, len(entries))
	todo := make([]int, len(entries))
	for i := range todo {
		todo[i] = i
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(50*time.Millisecond),
		backoff.WithMaxInterval(time.Second), backoff.WithMaxElapsedTime(0))
	lastErr := make([]error, len(entries))
	for attempt := 1; len(todo) > 0; attempt++ {
		if attempt > 1 && s.metrics.Retries != nil {
			s.metrics.Retries(len(todo))
		}
		// Each attempt waits for its acknowledgements only so long: one lost
		// (a dropped ack, a leader that died) is retried with the same
		// message id well within the publish timeout, and the retry of a
		// stored message comes back as a duplicate, which is stored.
		actx, acancel := context.WithTimeout(ctx, attemptTimeout(len(todo)))
		todo = s.publishRound(actx, entries, todo, attempt, out, lastErr)
		acancel()
		if len(todo) == 0 || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(bo.NextBackOff()):
		}
	}
	for _, i := range todo {
		err := lastErr[i]
		if err == nil {
			err = ctx.Err()
		}
		out[i] = Outcome{Status: Failed, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	if len(todo) > 0 && s.metrics.Failures != nil {
		s.metrics.Failures(len(todo))
	}
	switch {
	case len(todo) < len(entries):
		s.failedAt.Store(0) // something was stored: the store works
	case len(todo) > 0:
		err := out[todo[0]].Err
		s.failure.Store(&err)
		s.failedAt.CompareAndSwap(0, time.Now().UnixNano())
	}
	return out
}

// attemptTimeout is how long one attempt waits for n acknowledgements:
// half a second, plus what pipelining n messages takes on a slow machine.
func attemptTimeout(n int) time.Duration {
	return 500*time.Millisecond + time.Duration(n)*50*time.Microsecond
}

// publishRound publishes the entries in todo once and returns those to retry.
func (s *JetStreamStore) publishRound(ctx context.Context, entries []Entry, todo []int,
	attempt int, out []Outcome, lastErr []error) []int {
	msgs := make([]*nats.Msg, len(todo))
	now := time.Now()
	for k, i := range todo {
		e := &entries[i]
		m := nats.NewMsg(e.Subject)
		m.Data = e.Data
		m.Header.Set(idHeader(e), e.MsgID)
		m.Header.Set(jetstream.MsgTTLHeader, ttlHeader(events.MsgTTL(e.ExpiresAt, now)))
		if e.Stream != "" {
			m.Header.Set(jetstream.ExpectedStreamHeader, e.Stream)
		}
		if e.OnlyIfAbsent {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		}
		for k, v := range e.Header {
			m.Header.Set(k, v)
		}
		msgs[k] = m
	}
	acks := s.pipe.PublishAll(ctx, msgs)
	var retry, conflicts []int
	for k, i := range todo {
		err := acks[k].Err
		if err == nil {
			out[i] = Outcome{Status: Stored, Seq: acks[k].Seq}
			continue
		}
		lastErr[i] = err
		switch classify(err, attempt) {
		case stored:
			out[i] = Outcome{Status: Stored}
		case present:
			out[i] = Outcome{Status: AlreadyPresent}
		case ownedOrPresent:
			conflicts = append(conflicts, i)
		default:
			retry = append(retry, i)
		}
	}
	return append(retry, s.resolveConflicts(ctx, entries, conflicts, out)...)
}

// ownHeader carries the message id of a write-only-if-absent entry. The
// expected-sequence check already stores such an entry at most once, so the
// server's msg-id deduplication (Nats-Msg-Id) would only add bookkeeping for
// every one of a bulk request's ledger marks; the id is still needed to
// recognize a retried write as ours.
const ownHeader = "Revocast-Msg-Id"

func idHeader(e *Entry) string {
	if e.OnlyIfAbsent {
		return ownHeader
	}
	return jetstream.MsgIDHeader
}

// ttlHeader renders a per-message TTL in whole seconds, as Nats-TTL takes it.
func ttlHeader(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// verdict is what a publish error means.
type verdict int

const (
	transient      verdict = iota // retry
	stored                        // our own retry, being stored
	present                       // the subject holds someone else's message
	ownedOrPresent                // the subject holds a message: ours from an earlier attempt, or someone else's
)

// classify decides what a publish error means.
func classify(err error, attempt int) verdict {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return transient
	}
	switch apiErr.ErrorCode {
	case errCodeDuplicateInProcess:
		return stored
	case errCodeWrongLastSeq, errCodeWrongLastSeqConstant:
		if attempt == 1 {
			// The message id is unique to this request: on a first attempt
			// the message on the subject can only be someone else's.
			return present
		}
		// An earlier attempt of ours may have been stored with its
		// acknowledgement lost: the server checks the expected sequence
		// before the message id, so our own retry looks like a conflict.
		return ownedOrPresent
	}
	return transient
}

// conflictReaders bounds the reads resolveConflicts makes at once.
const conflictReaders = 32

// resolveConflicts reads the message on each conflicting entry's subject:
// the entry is stored if it carries the entry's id, else already present.
// The reads run concurrently on one stream handle per stream: a retry after
// a slow round can conflict on hundreds of ledger marks, and reading them
// one after another (a stream lookup and a read each) outlasted the publish
// timeout under load. It returns the entries to retry (unreadable).
func (s *JetStreamStore) resolveConflicts(ctx context.Context, entries []Entry, conflicts []int, out []Outcome) []int {
	if len(conflicts) == 0 {
		return nil
	}
	streams := map[string]jetstream.Stream{}
	var retry []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, conflictReaders)
	for _, i := range conflicts {
		e := &entries[i]
		st, ok := streams[e.Stream]
		if !ok {
			var err error
			if st, err = s.js.Stream(ctx, e.Stream); err != nil {
				st = nil
			}
			streams[e.Stream] = st
		}
		if st == nil {
			retry = append(retry, i)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := st.GetLastMsgForSubject(ctx, e.Subject)
			switch {
			case err != nil:
				mu.Lock()
				retry = append(retry, i)
				mu.Unlock()
			case m.Header.Get(idHeader(e)) == e.MsgID:
				out[i] = Outcome{Status: Stored, Seq: m.Sequence}
			default:
				out[i] = Outcome{Status: AlreadyPresent}
			}
		}()
	}
	wg.Wait()
	return retry
}
