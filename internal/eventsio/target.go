package eventsio

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// held is what a subject of the target stream holds.
type held struct {
	seq        uint64
	exp, ib    int64 // Unix ns: expiry; a rule's issued-before
	unreadable bool
	// stale: stored by an attempt whose sequence is unknown; read the
	// subject again before writing it.
	stale bool
}

// target is what the stream being imported into holds, read once at the
// start and kept up to date with what the import stores: each subject's
// last revocation, which batches exist, which rules have a ledger mark.
type target struct {
	st          jetstream.Stream
	subjects    map[string]held // token, JWT ID and rule subjects
	batches     map[string]struct{}
	ledgerRules map[string]struct{} // rule keys
}

// readTarget reads the stream's token, JWT ID and rule subjects (with
// their events), its batch subjects (headers only) and the ledger's rule
// marks. Its memory is about 150 bytes per message the stream holds: none
// for a fresh stream, the disaster-recovery case.
func readTarget(ctx context.Context, js jetstream.JetStream, o events.StreamOptions) (*target, int64, error) {
	name := o.Config().Name
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, 0, fmt.Errorf("stream %s: %w (run revocast init first)", name, err)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: %w", name, err)
	}
	t := &target{st: st, subjects: map[string]held{}, batches: map[string]struct{}{}, ledgerRules: map[string]struct{}{}}
	var unreadable int64
	err = Scan(ctx, st, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.TokenSubjects, events.JTISubjects, events.RuleSubjects}},
		func(m jetstream.Msg) error {
			meta, _ := m.Metadata()
			h := heldOf(meta.Sequence.Stream, m.Data())
			if h.unreadable {
				unreadable++
			}
			t.subjects[m.Subject()] = h
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	err = Scan(ctx, st, jetstream.OrderedConsumerConfig{HeadersOnly: true, FilterSubjects: []string{events.BatchSubjects}},
		func(m jetstream.Msg) error {
			t.batches[m.Subject()] = struct{}{}
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	lst, err := js.Stream(ctx, o.LedgerName())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, 0, fmt.Errorf("ledger %s: %w (run revocast init first)", o.LedgerName(), err)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("ledger %s: %w", o.LedgerName(), err)
	}
	rulePrefix := strings.TrimSuffix(events.LedgerRuleSubjects, ">")
	err = Scan(ctx, lst, jetstream.OrderedConsumerConfig{HeadersOnly: true, FilterSubjects: []string{events.LedgerRuleSubjects}},
		func(m jetstream.Msg) error {
			t.ledgerRules[strings.TrimPrefix(m.Subject(), rulePrefix)] = struct{}{}
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	return t, unreadable, nil
}

// heldOf reads what a stored event revokes.
func heldOf(seq uint64, data []byte) held {
	ev, err := events.Decode(data)
	if err != nil {
		return held{seq: seq, unreadable: true}
	}
	return held{seq: seq, exp: nanos(ev.ExpiresAt), ib: nanos(ev.IssuedBefore)}
}

// get returns what subject holds, reading it again when the import's own
// write left its sequence unknown.
func (t *target) get(ctx context.Context, subject string) (held, bool, error) {
	h, ok := t.subjects[subject]
	if ok && !h.stale {
		return h, true, nil
	}
	return t.reread(ctx, subject)
}

// reread reads a subject's last message from the stream.
func (t *target) reread(ctx context.Context, subject string) (held, bool, error) {
	m, err := t.st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		delete(t.subjects, subject)
		return held{}, false, nil
	}
	if err != nil {
		return held{}, false, fmt.Errorf("read %s: %w", subject, err)
	}
	h := heldOf(m.Sequence, m.Data)
	t.subjects[subject] = h
	return h, true, nil
}
