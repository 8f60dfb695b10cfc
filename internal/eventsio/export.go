package eventsio

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
)

// ErrUnreadable: the stream holds events this revocast cannot read (a newer
// schema, or garbage): the export lacks them.
var ErrUnreadable = errors.New("events that could not be read")

// ExportOptions configure Export.
type ExportOptions struct {
	// Stream names the revocation stream and its ledger.
	Stream events.StreamOptions
	// Now is the clock (time.Now when nil): records expired by then are left out.
	Now func() time.Time
	// Progress, when set, is updated as the export goes.
	Progress *Progress
}

// ExportResult says what Export wrote.
type ExportResult struct {
	Header  Header
	Events  int64 // messages read from the stream
	Records int64 // lines written after the header
	// LedgerMarks is how many token marks were read for their realm keys
	// (only when the stream holds batch events).
	LedgerMarks int64
	// Unreadable events (at most maxUnreadable listed, all counted).
	Unreadable  []Unreadable
	UnreadableN int64
}

// Unreadable names an event that could not be read.
type Unreadable struct {
	Seq     uint64
	Subject string
	Err     string
}

const maxUnreadable = 10

// Export writes the live revocations of the stream to w: the header, then
// one record per token key or rule, in stream order, a batch event expanded
// to one record per live token. Batch tokens get their realm key from the
// ledger, read first (about 50 bytes of memory per token mark). Events it
// cannot read are counted and named in the result, and make it return
// ErrUnreadable after writing everything else.
func Export(ctx context.Context, js jetstream.JetStream, o ExportOptions, w io.Writer) (ExportResult, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	p := o.Progress
	if p == nil {
		p = &Progress{}
	}
	name := o.Stream.Config().Name
	var res ExportResult
	st, err := js.Stream(ctx, name)
	if err != nil {
		return res, fmt.Errorf("stream %s: %w", name, err)
	}
	info := st.CachedInfo()
	res.Header = Header{Format: Format, Version: Version, Stream: name, StreamCreated: info.Created.UTC(),
		LastSeq: info.State.LastSeq, ExportedAt: now().UTC()}

	realms, err := ledgerRealms(ctx, js, st, o.Stream.LedgerName(), &res)
	if err != nil {
		return res, err
	}

	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res.Header); err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	err = Scan(ctx, st, jetstream.OrderedConsumerConfig{}, func(m jetstream.Msg) error {
		meta, _ := m.Metadata() // scan checked it
		res.Events++
		p.seq.Store(meta.Sequence.Stream)
		ev, derr := events.Decode(m.Data())
		if derr != nil {
			res.UnreadableN++
			if len(res.Unreadable) < maxUnreadable {
				res.Unreadable = append(res.Unreadable, Unreadable{Seq: meta.Sequence.Stream, Subject: m.Subject(), Err: derr.Error()})
			}
			return nil
		}
		for _, r := range Records(&ev, realms.of, now()) {
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			res.Records++
			p.records.Add(1)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("export %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	if res.UnreadableN > 0 {
		return res, fmt.Errorf("%d %w (first at sequence %d, %s: %s); everything else is exported",
			res.UnreadableN, ErrUnreadable, res.Unreadable[0].Seq, res.Unreadable[0].Subject, res.Unreadable[0].Err)
	}
	return res, nil
}

// realmIndex maps token keys to the realm keys their ledger marks carry.
type realmIndex struct {
	keys  []string
	idx   map[string]uint16
	bySum map[events.Sum]uint16
}

func (r *realmIndex) of(sum events.Sum) string {
	if r == nil {
		return ""
	}
	if i, ok := r.bySum[sum]; ok {
		return r.keys[i]
	}
	return ""
}

// ledgerRealms reads the realm key of every token mark of the ledger, when
// the stream holds batch events (their tokens' realms are only there).
func ledgerRealms(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, ledger string, res *ExportResult) (*realmIndex, error) {
	bi, err := st.Info(ctx, jetstream.WithSubjectFilter(events.BatchSubjects))
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	if len(bi.State.Subjects) == 0 {
		return nil, nil
	}
	lst, err := js.Stream(ctx, ledger)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // no ledger: realm keys unknown
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", ledger, err)
	}
	r := &realmIndex{idx: map[string]uint16{}, bySum: map[events.Sum]uint16{}}
	err = Scan(ctx, lst, jetstream.OrderedConsumerConfig{HeadersOnly: true, FilterSubjects: []string{events.LedgerTokenSubjects}},
		func(m jetstream.Msg) error {
			sum, ok := events.LedgerSum(m.Subject())
			key := m.Headers().Get(events.LedgerRealmHeader)
			if !ok || !validRealmKey(key) || key == "" {
				return nil
			}
			i, ok := r.idx[key]
			if !ok {
				if len(r.keys) >= 1<<16 {
					return nil // more realms than anyone runs: unknown
				}
				i = uint16(len(r.keys))
				r.keys = append(r.keys, key)
				r.idx[key] = i
			}
			r.bySum[sum] = i
			res.LedgerMarks++
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", ledger, err)
	}
	return r, nil
}
