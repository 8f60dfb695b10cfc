package eventsio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

// DefaultChunkLines is how many lines Import stores at once: a multiple of
// events.MaxBatch, so an export's full batches stay whole.
const DefaultChunkLines = 10 * events.MaxBatch

// ImportOptions configure Import.
type ImportOptions struct {
	// Stream names the revocation stream and its ledger.
	Stream events.StreamOptions
	// Store appends the events and ledger marks (publisher.JetStreamStore).
	Store publisher.Store
	// Now is the clock (time.Now when nil): records expired by then are skipped.
	Now func() time.Time
	// MaxTokenLifetime bounds an expiry (now plus it and the leeway), as
	// the fronts and sidecars do; events.DefaultMaxTokenLifetime when zero.
	MaxTokenLifetime time.Duration
	// ResumeFromLine: the lines before it (the header excepted) are read
	// but not stored; 0 stores every line.
	ResumeFromLine int64
	// ChunkLines is how many lines are stored at once (DefaultChunkLines
	// when zero).
	ChunkLines int
	// Progress, when set, is updated as the import goes.
	Progress *Progress
}

// ImportResult counts what Import did. Every record read is counted once
// in Expired, Present or Stored, or was before ResumeFromLine (Skipped).
type ImportResult struct {
	Header  Header
	Records int64 // record lines read
	Skipped int64 // before ResumeFromLine
	Expired int64 // expired: not stored
	Clamped int64 // expiries beyond MaxTokenLifetime, or rules issued in the future: bounded
	// Present: records whose subject already held an equal or later
	// revocation (or the same batch), so nothing was stored for them.
	Present int64
	// Stored: records stored, in StoredEvents events (a batch holds up to
	// events.MaxBatch).
	Stored       int64
	StoredEvents int64
	// Ledger marks written, and those already there.
	LedgerStored, LedgerPresent int64
	// Unreadable: subjects that hold an event this revocast cannot read;
	// left as they are.
	Unreadable     int64
	LastStoredLine int64
}

// ImportError is a failed import: the line at fault (0: none in particular)
// and the last line whose revocation is stored, after which a new import
// may resume.
type ImportError struct {
	Line           int64
	LastStoredLine int64
	Err            error
}

func (e *ImportError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %v (%s)", e.Line, e.Err, e.stored())
	}
	return fmt.Sprintf("%v (%s)", e.Err, e.stored())
}

// stored says how far the import got. Line 1 is the header, which stores
// nothing: a failure there, or before the first revocation was stored, says
// so instead of "every line up to 1 is stored" (seen on a file that was not
// an export at all).
func (e *ImportError) stored() string {
	last := e.LastStoredLine
	if e.Line > 0 && last >= e.Line {
		last = e.Line - 1
	}
	if last <= 1 {
		return "nothing was stored"
	}
	return fmt.Sprintf("every line up to %d is stored", last)
}

func (e *ImportError) Unwrap() error { return e.Err }

// maxConflicts bounds how often one chunk is tried again after a subject
// changed under it (another writer).
const maxConflicts = 5

// Import stores the revocations of an export read from r into the stream,
// with their ledger marks (see the package comment for how it stays
// idempotent and resumable). It needs to read the stream: the operator's
// identity.
func Import(ctx context.Context, js jetstream.JetStream, o ImportOptions, r io.Reader) (ImportResult, error) {
	im := &importer{o: o, now: time.Now, p: o.Progress, run: nuid.Next()}
	if o.Now != nil {
		im.now = o.Now
	}
	if im.p == nil {
		im.p = &Progress{}
	}
	if im.o.MaxTokenLifetime == 0 {
		im.o.MaxTokenLifetime = events.DefaultMaxTokenLifetime
	}
	if im.o.ChunkLines <= 0 {
		im.o.ChunkLines = DefaultChunkLines
	}
	im.res.LastStoredLine = max(o.ResumeFromLine-1, 1)
	im.p.line.Store(im.res.LastStoredLine)
	lr := newLineReader(r)
	first, err := lr.next()
	if errors.Is(err, io.EOF) {
		return im.res, im.fail(1, fmt.Errorf("%w: an empty file (no header)", ErrFormat))
	}
	if err != nil {
		return im.res, im.fail(1, err)
	}
	if im.res.Header, err = ParseHeader(first); err != nil {
		return im.res, im.fail(1, err)
	}
	im.t, im.res.Unreadable, err = readTarget(ctx, js, o.Stream)
	if err != nil {
		return im.res, im.fail(0, err)
	}
	var chunk []lineRecord
	chunkOf := func(line int64) int64 { return (line - 2) / int64(im.o.ChunkLines) }
	for {
		b, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return im.res, im.fail(lr.line, err)
		}
		if len(chunk) > 0 && chunkOf(lr.line) != chunkOf(chunk[0].line) {
			if err := im.store(ctx, chunk); err != nil {
				return im.res, err
			}
			chunk = chunk[:0]
		}
		if len(b) == 0 {
			continue
		}
		im.res.Records++
		im.p.records.Add(1)
		if lr.line < o.ResumeFromLine {
			im.res.Skipped++
			continue
		}
		rec, err := ParseRecord(b)
		if err != nil {
			return im.res, im.fail(lr.line, err)
		}
		chunk = append(chunk, lineRecord{line: lr.line, Record: rec})
	}
	if len(chunk) > 0 {
		if err := im.store(ctx, chunk); err != nil {
			return im.res, err
		}
	}
	if o.ResumeFromLine > lr.line+1 { // a mistyped number, or another file: nothing of it was stored
		im.res.LastStoredLine = 1
		im.p.line.Store(1)
		return im.res, im.fail(0, fmt.Errorf("--resume-from-line %d is beyond the end of the file, whose last line is line %d",
			o.ResumeFromLine, lr.line))
	}
	im.res.LastStoredLine = max(im.res.LastStoredLine, lr.line)
	im.p.line.Store(im.res.LastStoredLine)
	return im.res, nil
}

type lineRecord struct {
	line int64
	Record
}

type importer struct {
	o   ImportOptions
	now func() time.Time
	p   *Progress
	t   *target
	res ImportResult
	// rulesStored: the rule subjects the current chunk stored, whose ledger
	// marks are written whether or not the rule had one.
	rulesStored map[string]bool
	// run names this import in its message ids (see eventEntry).
	run string
}

func (im *importer) fail(line int64, err error) error {
	return &ImportError{Line: line, LastStoredLine: im.res.LastStoredLine, Err: err}
}

// planned is one event to store: its entry, the records it carries, and
// what its subject will hold.
type planned struct {
	entry   publisher.Entry
	subject string
	from    []lineRecord // the records it carries
	batch   bool
	h       held
	line    int64 // the first line it carries, for errors
}

// store stores one chunk: its events, then the ledger marks of what is
// enforced, and advances the last stored line to the chunk's last.
func (im *importer) store(ctx context.Context, chunk []lineRecord) error {
	now := im.now()
	im.rulesStored = map[string]bool{}
	live := im.live(chunk, now)
	plans, err := im.planBatches(chunk, now)
	if err != nil {
		return err
	}
	var todo []lineRecord // the token, JWT ID and rule records left to decide
	for _, lr := range live {
		if !lr.Batch {
			todo = append(todo, lr)
		}
	}
	for round := 0; len(plans) > 0 || len(todo) > 0; round++ {
		if round > maxConflicts {
			return im.fail(chunk[0].line, fmt.Errorf("lines %d to %d: their subjects kept changing under the import (another writer?)",
				chunk[0].line, chunk[len(chunk)-1].line))
		}
		more, err := im.plan(ctx, todo, now)
		if err != nil {
			return err
		}
		plans = append(plans, more...)
		entries := make([]publisher.Entry, len(plans))
		for i := range plans {
			entries[i] = plans[i].entry
		}
		todo = nil
		for i, o := range im.append(ctx, entries) {
			p := &plans[i]
			switch o.Status {
			case publisher.Stored:
				p.h.seq, p.h.stale = o.Seq, o.Seq == 0
				im.record(p)
				im.res.Stored += int64(len(p.from))
				im.res.StoredEvents++
			case publisher.AlreadyPresent:
				if p.batch { // the same records, stored by another import meanwhile
					im.t.batches[p.subject] = struct{}{}
					im.res.Present += int64(len(p.from))
					continue
				}
				// The subject changed since it was read: read it again and
				// decide again.
				if _, _, err := im.t.reread(ctx, p.subject); err != nil {
					return im.fail(p.line, err)
				}
				todo = append(todo, p.from...)
			default:
				return im.fail(p.line, fmt.Errorf("storing %s: %w", p.subject, o.Err))
			}
		}
		plans = nil
	}
	if err := im.ledger(ctx, live, now); err != nil {
		return err
	}
	im.res.LastStoredLine = chunk[len(chunk)-1].line
	im.p.line.Store(im.res.LastStoredLine)
	return nil
}

// live returns the records not expired by now, and counts the rest and
// those it will bound.
func (im *importer) live(chunk []lineRecord, now time.Time) []lineRecord {
	limit := im.limit(now)
	out := make([]lineRecord, 0, len(chunk))
	for _, lr := range chunk {
		if !lr.ExpiresAt.After(now) {
			im.res.Expired++
			continue
		}
		if lr.ExpiresAt.After(limit) || lr.Kind == KindRule && lr.IssuedBefore.After(now.Add(events.MaxClockSkew)) {
			im.res.Clamped++
		}
		out = append(out, lr)
	}
	return out
}

// limit is the latest expiry an event stored now may have: what fronts and
// sidecars bound expiries to.
func (im *importer) limit(now time.Time) time.Time {
	return now.Add(im.o.MaxTokenLifetime + events.ExpiryLeeway)
}

// bound returns an expiry no later than limit.
func bound(t, limit time.Time) time.Time {
	if t.After(limit) {
		return limit
	}
	return t.UTC()
}

// plan decides what to store for token, JWT ID and rule records: for each
// subject, the record (merged with any other of the same subject) unless
// the subject holds an equal or later revocation.
func (im *importer) plan(ctx context.Context, recs []lineRecord, now time.Time) ([]planned, error) {
	limit := im.limit(now)
	var plans []planned
	bySubject := map[string]int{}
	for _, lr := range recs {
		r := lr.Record
		ev := r.event()
		ev.ExpiresAt = bound(ev.ExpiresAt, limit)
		if r.Kind == KindRule && ev.IssuedBefore.After(now.Add(events.MaxClockSkew)) {
			ev.IssuedBefore = now.Add(events.MaxClockSkew).Truncate(time.Second)
		}
		subject := ev.Subject()
		if i, ok := bySubject[subject]; ok { // the same subject twice: one event, the later of both
			plans[i].from = append(plans[i].from, lr)
			mergeInto(&plans[i], im.run, ev)
			continue
		}
		h, ok, err := im.t.get(ctx, subject)
		if err != nil {
			return nil, im.fail(lr.line, err)
		}
		if ok && h.unreadable {
			im.res.Present++ // not ours to replace
			continue
		}
		if ok && h.exp >= nanos(ev.ExpiresAt) && h.ib >= nanos(ev.IssuedBefore) {
			im.res.Present++
			continue
		}
		if ok && ev.Kind == events.KindRule { // keep the later of each time: a rule only ever reaches further
			ev.ExpiresAt = laterOf(ev.ExpiresAt, h.exp)
			ev.IssuedBefore = laterOf(ev.IssuedBefore, h.ib)
		}
		p := planned{subject: subject, from: []lineRecord{lr}, line: lr.line, h: held{exp: nanos(ev.ExpiresAt), ib: nanos(ev.IssuedBefore)}}
		if err := im.entry(&p, ev, h.seq); err != nil {
			return nil, im.fail(lr.line, err)
		}
		bySubject[subject] = len(plans)
		plans = append(plans, p)
	}
	return plans, nil
}

// planBatches groups a chunk's batch records by schema version, up to
// events.MaxBatch a batch, and plans each batch not stored yet. A batch is
// named after all its records, expired or not, so the name does not change
// as time passes; it carries the live ones.
func (im *importer) planBatches(chunk []lineRecord, now time.Time) ([]planned, error) {
	byVersion := map[int][]lineRecord{}
	for _, lr := range chunk {
		if lr.Kind == KindToken && lr.Batch {
			byVersion[lr.V] = append(byVersion[lr.V], lr)
		}
	}
	var plans []planned
	for _, v := range []int{events.LegacyKeyVersion, events.SchemaVersion} {
		recs := byVersion[v]
		for from := 0; from < len(recs); from += events.MaxBatch {
			p, err := im.batch(v, recs[from:min(from+events.MaxBatch, len(recs))], now)
			if err != nil {
				return nil, err
			}
			if p != nil {
				plans = append(plans, *p)
			}
		}
	}
	return plans, nil
}

// batch plans one imported batch, or nothing when it is stored already or
// every token in it has expired.
func (im *importer) batch(v int, group []lineRecord, now time.Time) (*planned, error) {
	recs := make([]Record, len(group))
	for i := range group {
		recs[i] = group[i].Record
	}
	id := batchID(v, recs)
	subject := events.BatchSubject(id, 0)
	var live []lineRecord
	var items []events.TokenItem
	for _, lr := range group {
		if lr.ExpiresAt.After(now) {
			it := lr.item()
			it.ExpiresAt = bound(it.ExpiresAt, im.limit(now))
			live, items = append(live, lr), append(items, it)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	if _, ok := im.t.batches[subject]; ok {
		im.res.Present += int64(len(live))
		return nil, nil
	}
	ev := events.NewTokenBatch(id, 0, items, now)
	ev.Version = v
	ev.RevokedAt = live[0].RevokedAt.UTC()
	p := &planned{subject: subject, from: live, batch: true, line: live[0].line}
	if err := im.entry(p, ev, 0); err != nil {
		return nil, im.fail(live[0].line, err)
	}
	return p, nil
}

// entry makes the event's entry: written only if its subject still holds
// what was read (sequence expect; nothing when 0), under a message id
// derived from its content.
func (im *importer) entry(p *planned, ev events.Event, expect uint64) error {
	e, err := eventEntry(im.o.Stream.Config().Name, im.run, ev, expect)
	p.entry = e
	return err
}

// eventEntry makes an event's entry. Its message id names the import run
// and the content: the store recognizes a retried write as its own by it,
// and an earlier import's write (the same content) must not look like this
// run's.
func eventEntry(stream, run string, ev events.Event, expect uint64) (publisher.Entry, error) {
	b, err := ev.Encode()
	if err != nil {
		return publisher.Entry{}, err
	}
	sum := sha256.Sum256(b)
	e, err := publisher.EventEntry(ev, stream, "imp."+run+"."+hex.EncodeToString(sum[:16]))
	if err != nil {
		return publisher.Entry{}, err
	}
	if expect == 0 {
		e.OnlyIfAbsent = true
	} else {
		e.Header = map[string]string{jetstream.ExpectedLastSubjSeqHeader: strconv.FormatUint(expect, 10)}
	}
	return e, nil
}

// mergeInto makes a planned event the later of itself and ev (the same
// subject twice in a chunk).
func mergeInto(p *planned, run string, ev events.Event) {
	old, _ := events.Decode(p.entry.Data)
	ev.ExpiresAt = laterOf(ev.ExpiresAt, nanos(old.ExpiresAt))
	ev.IssuedBefore = laterOf(ev.IssuedBefore, nanos(old.IssuedBefore))
	p.h.exp, p.h.ib = nanos(ev.ExpiresAt), nanos(ev.IssuedBefore)
	expect := uint64(0)
	if p.entry.Header != nil {
		expect, _ = strconv.ParseUint(p.entry.Header[jetstream.ExpectedLastSubjSeqHeader], 10, 64)
	}
	// Both records passed Validate and name the same subject: it encodes.
	if e, err := eventEntry(p.entry.Stream, run, ev, expect); err == nil {
		p.entry = e
	}
}

// laterOf returns the later of t and ns (Unix ns; 0 is none).
func laterOf(t time.Time, ns int64) time.Time {
	if ns != 0 && ns > nanos(t) {
		return time.Unix(0, ns).UTC()
	}
	return t
}

// nanos is t in Unix ns, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// record notes what a stored event's subject holds now.
func (im *importer) record(p *planned) {
	if p.batch {
		im.t.batches[p.subject] = struct{}{}
		return
	}
	im.t.subjects[p.subject] = p.h
	if p.from[0].Kind == KindRule {
		im.rulesStored[p.subject] = true
	}
}

// ledger writes the ledger mark of every live token of the chunk (only
// where none is, so a token already counted stays counted once) and of
// every rule stored or lacking one, after their events are stored.
func (im *importer) ledger(ctx context.Context, live []lineRecord, now time.Time) error {
	limit := im.limit(now)
	ledger := im.o.Stream.LedgerName()
	var marks []publisher.Entry
	var lines []int64
	seen, seenRule := map[events.Sum]bool{}, map[string]bool{}
	for _, lr := range live {
		r := &lr.Record
		exp := bound(r.ExpiresAt, limit)
		switch r.Kind {
		case KindToken:
			if seen[r.Token] {
				continue
			}
			seen[r.Token] = true
			e := publisher.LedgerEntry(r.Token, "", exp, ledger, "imp."+im.run+"."+r.Token.String())
			e.Header[events.LedgerRealmHeader] = r.realmKey()
			marks, lines = append(marks, e), append(lines, lr.line)
		case KindRule:
			rule := r.Rule()
			key := rule.Key()
			if _, ok := im.t.ledgerRules[key]; (ok && !im.rulesStored[rule.Subject()]) || seenRule[key] {
				continue
			}
			seenRule[key] = true
			h, ok := im.t.subjects[rule.Subject()]
			if !ok || h.unreadable {
				continue
			}
			ib := time.Unix(0, h.ib).UTC()
			e := publisher.LedgerRuleEntry(rule, time.Unix(0, h.exp), ledger,
				"imp."+im.run+".rule."+key+"."+strconv.FormatInt(ib.Unix(), 10))
			marks, lines = append(marks, e), append(lines, lr.line)
		}
	}
	if len(marks) == 0 {
		return nil
	}
	for i, o := range im.append(ctx, marks) {
		switch o.Status {
		case publisher.Stored:
			im.res.LedgerStored++
		case publisher.AlreadyPresent:
			im.res.LedgerPresent++
		default:
			return im.fail(lines[i], fmt.Errorf("the revocation is stored, its ledger mark is not: %w", o.Err))
		}
		if events.IsLedgerRule(marks[i].Subject) {
			im.t.ledgerRules[marks[i].Subject[len(events.LedgerRuleSubject("")):]] = struct{}{}
		}
	}
	return nil
}

// appendSlice is how many entries one Store.Append gets. The store gives
// each attempt 500 ms plus 50 µs an entry for its acknowledgements and
// retries the rest; with thousands at once on a loaded machine (the race
// detector, two shared cores) attempts kept timing out, every retry of a
// write-if-absent mark cost a read, and a chunk of 5,000 failed after
// --publish-timeout. Slices of 500 leave each entry about 1 ms.
const appendSlice = 500

// append stores entries a slice at a time; it stops at the first slice
// with a failure (the rest are reported failed with the same error).
func (im *importer) append(ctx context.Context, entries []publisher.Entry) []publisher.Outcome {
	out := make([]publisher.Outcome, 0, len(entries))
	for from := 0; from < len(entries); from += appendSlice {
		part := im.o.Store.Append(ctx, entries[from:min(from+appendSlice, len(entries))])
		out = append(out, part...)
		for _, o := range part {
			if o.Status == publisher.Failed {
				for len(out) < len(entries) {
					out = append(out, o)
				}
				return out
			}
		}
	}
	return out
}
