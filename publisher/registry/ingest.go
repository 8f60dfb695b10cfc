package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Registrar stores records (*Store implements it).
type Registrar interface {
	Register(ctx context.Context, recs []publisher.Record) []error
}

var _ Registrar = (*Store)(nil)

// LineError is why one line was not registered.
type LineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Result is the answer to a registration.
type Result struct {
	Registered int         `json:"registered"`
	Errors     []LineError `json:"errors,omitempty"`
	// ErrorsOmitted counts errors beyond the first maxReportedErrors.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
	// Error says why the body was not read to its end: a read error, the
	// size limit, a timeout, the line cap, or a store failing a whole chunk. LastStoredLine then names the
	// last line whose record was stored (0: none): every line before the cut
	// is stored or listed in Errors, nothing after it was read, so the
	// issuer resumes with the line after LastStoredLine.
	Error          string `json:"error,omitempty"`
	LastStoredLine *int   `json:"last_stored_line,omitempty"`
	// storeFailures counts lines that failed for the store's sake (not the input's).
	storeFailures int
	storeCut      bool // the body was cut because the store failed
	lastStored    int
}

const (
	maxReportedErrors = 1000
	// chunkLines is how many lines are parsed, then stored, at a time: the
	// feed holds at most three chunks (one being parsed, one waiting, one
	// being stored) whatever the body's size.
	chunkLines = 1000
)

// limits bound one registration.
type limits struct {
	maxLifetime time.Duration // expiries further away are refused
	maxLines    int           // lines per request; more cut the body
	// progress, when set, is called after each chunk is handed on, before
	// reading resumes (the handler moves the connection's read deadline).
	progress func()
	// realmKey, when set, admits only records of the realm with that
	// events.RealmKey: the realm of the bus subject the body came on, which
	// NATS permissions confine each issuer to.
	realmKey string
}

// ingest registers every record of body: NDJSON lines, or (whole) one JSON
// object when single is set. Bad lines are reported and store nothing; good
// lines are registered, chunk by chunk, so memory does not grow with the
// body. Parsing the next chunk overlaps registering the previous one, so
// two cores share the work.
//
// A record repeated identically within a chunk is stored once and counted
// per line; across chunks the store's first-registration-wins claim
// decides (an identical record again is success, another is a conflict).
func ingest(ctx context.Context, reg Registrar, p *auth.Principal, lim limits, body io.Reader, single bool) Result {
	chunks := make(chan *chunk, 1)
	ps := &parser{principal: p, lim: lim, now: time.Now(), out: chunks}
	go func() {
		defer close(chunks)
		ps.parse(body, single)
	}()
	var res Result
	var failed error // the store failed a whole chunk: the rest is not stored
	for c := range chunks {
		errs := make([]error, len(c.recs))
		switch {
		case failed != nil: // read before the parser saw the stop
			for i := range errs {
				errs[i] = fmt.Errorf("not stored: %w", failed)
			}
		case len(c.recs) > 0:
			errs = reg.Register(ctx, c.recs)
			if err := storeFailedAll(errs); err != nil {
				failed = err
				ps.stop.Store(true)
			}
		}
		res.add(c, errs)
	}
	res.storeCut = failed != nil
	return res
}

// storeFailedAll returns a store error when every record of a chunk failed
// for the store's sake (not the input's): the store is down or failing, and
// a big body would otherwise take a store timeout per chunk to say so.
func storeFailedAll(errs []error) error {
	for _, err := range errs {
		if err == nil || errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) {
			return nil
		}
	}
	return errs[0]
}

// add accounts for a stored chunk, line by line: each record's outcome
// (errs, from the store), the parser's errors, and repeats sharing their
// first line's outcome.
func (res *Result) add(c *chunk, errs []error) {
	for _, it := range c.items {
		switch {
		case it.err != nil:
			res.fail(it.line, it.err)
		case errs[it.rec] != nil && it.repeat:
			res.fail(it.line, fmt.Errorf("%w (as line %d)", errs[it.rec], c.lines[it.rec]))
		case errs[it.rec] != nil:
			res.fail(it.line, errs[it.rec])
		default:
			res.stored(it.line)
		}
	}
	if c.cut != nil {
		last := res.lastStored
		res.Error, res.LastStoredLine = c.cut.Error(), &last
	}
}

func (res *Result) stored(line int) {
	res.Registered++
	res.lastStored = max(res.lastStored, line)
}

func (res *Result) fail(line int, err error) {
	if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrConflict) {
		res.storeFailures++
	}
	if len(res.Errors) >= maxReportedErrors {
		res.ErrorsOmitted++
		return
	}
	res.Errors = append(res.Errors, LineError{Line: line, Error: err.Error()})
}

// chunk is up to chunkLines lines: their valid records and what became
// of each non-blank line, in order.
type chunk struct {
	recs  []publisher.Record
	lines []int // the line of each record
	items []item
	first map[recordID]int // record → its index in recs
	read  int              // lines read into this chunk
	cut   error            // the body ended here, not at its end
}

// item is one non-blank line: refused by the parser (err), or recs[rec]
// (repeat: an identical repeat of that record's line).
type item struct {
	line   int
	rec    int
	repeat bool
	err    error
}

// recordID is a record's identity: the realm is part of it.
type recordID struct {
	realm string
	sum   events.Sum
}

func newChunk() *chunk { return &chunk{first: make(map[recordID]int)} }
