package registry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

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
	// storeFailures counts lines that failed for the store's sake (not the input's).
	storeFailures int
}

const (
	maxReportedErrors = 1000
	chunkSize         = 10_000
)

func (r *Result) fail(line int, err error) {
	if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrConflict) {
		r.storeFailures++
	}
	if len(r.Errors) >= maxReportedErrors+1 { // one more than shown, so the merge knows to cut
		r.ErrorsOmitted++
		return
	}
	r.Errors = append(r.Errors, LineError{Line: line, Error: err.Error()})
}

// chunk is up to chunkSize valid records, with their line numbers, and the
// identical repeats (by token) seen since the previous chunk.
type chunk struct {
	recs  []publisher.Record
	lines []int
	dups  map[[32]byte]int
}

// parser validates lines into chunks; its errors are about the input.
type parser struct {
	principal   *auth.Principal // nil: a trusted issuer on the bus, every realm
	maxLifetime time.Duration
	now         time.Time
	res         Result
	seen        map[[32]byte]publisher.Record
	cur         *chunk
	out         chan<- *chunk
}

// ingest registers every record of body: NDJSON lines, or (whole) one JSON
// object when single is set. Bad lines are reported and store nothing; good
// lines are registered. Parsing the next chunk overlaps registering the
// previous one, so the two cores share the work.
func ingest(ctx context.Context, reg Registrar, p *auth.Principal, maxLifetime time.Duration, body io.Reader, single bool) Result {
	chunks := make(chan *chunk, 1)
	ps := &parser{principal: p, maxLifetime: maxLifetime, now: time.Now(), seen: map[[32]byte]publisher.Record{}, out: chunks}
	go func() {
		defer close(chunks)
		ps.parse(body, single)
	}()
	var res Result
	registered := map[[32]byte]bool{}
	for c := range chunks {
		errs := reg.Register(ctx, c.recs)
		for i, err := range errs {
			if err != nil {
				res.fail(c.lines[i], err)
				continue
			}
			res.Registered++
			registered[c.recs[i].Sum] = true
		}
		for sum, n := range c.dups {
			if registered[sum] {
				res.Registered += n
			}
		}
	}
	// The parser is done (chunks is closed): merge its errors, in line order.
	res.storeFailures += ps.res.storeFailures
	res.ErrorsOmitted += ps.res.ErrorsOmitted
	res.Errors = append(res.Errors, ps.res.Errors...)
	sort.Slice(res.Errors, func(i, j int) bool { return res.Errors[i].Line < res.Errors[j].Line })
	if len(res.Errors) > maxReportedErrors {
		res.ErrorsOmitted += len(res.Errors) - maxReportedErrors
		res.Errors = res.Errors[:maxReportedErrors]
	}
	return res
}

func (ps *parser) parse(body io.Reader, single bool) {
	ps.cur = &chunk{dups: map[[32]byte]int{}}
	defer ps.flush()
	if single {
		b, err := io.ReadAll(io.LimitReader(body, MaxLineLen+1))
		switch {
		case err != nil:
			ps.res.fail(1, fmt.Errorf("could not read the body: %w", err))
		case len(b) > MaxLineLen:
			ps.res.fail(1, invalid("record longer than %d bytes", MaxLineLen))
		default:
			ps.line(1, b)
		}
		return
	}
	br := bufio.NewReaderSize(body, 64<<10)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) { // the line was cut: none of it is used
			ps.res.fail(n, invalid("the body is larger than %d bytes: nothing from line %d on was read", tooBig.Limit, n))
			return
		}
		if tooLong {
			ps.res.fail(n, invalid("line longer than %d bytes", MaxLineLen))
		} else if len(bytes.TrimSpace(line)) > 0 {
			ps.line(n, line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				ps.res.fail(n, fmt.Errorf("could not read the body: %w", err))
			}
			return
		}
	}
}

// readLine reads one line of at most MaxLineLen bytes (without its line
// ending); a longer one is consumed and reported as tooLong. A read error
// comes with the data read before it, so a line cut by the body's size limit
// is known to be cut.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		part, err := br.ReadSlice('\n')
		if !tooLong {
			line = append(line, part...)
			if len(line) > MaxLineLen+2 {
				tooLong, line = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > MaxLineLen {
			tooLong, line = true, nil
		}
		return line, tooLong, err
	}
}

func (ps *parser) line(n int, b []byte) {
	inp, err := ParseInput(b)
	if err != nil {
		ps.res.fail(n, err)
		return
	}
	r, err := inp.Validate(ps.now, ps.maxLifetime)
	if err != nil {
		ps.res.fail(n, err)
		return
	}
	if ps.principal != nil && !ps.principal.InRealm(r.Realm) {
		ps.res.fail(n, invalid("%s may not register tokens of realm [%s]", ps.principal, r.Realm))
		return
	}
	if prev, dup := ps.seen[r.Sum]; dup {
		if !sameRecord(&prev, &r) {
			ps.res.fail(n, fmt.Errorf("%w (an earlier line of this request)", ErrConflict))
		} else {
			ps.cur.dups[r.Sum]++ // the same record again: counted with the first, if it registers
		}
		return
	}
	ps.seen[r.Sum] = r
	ps.cur.recs = append(ps.cur.recs, r)
	ps.cur.lines = append(ps.cur.lines, n)
	if len(ps.cur.recs) >= chunkSize {
		ps.flush()
	}
}

func (ps *parser) flush() {
	if len(ps.cur.recs) == 0 && len(ps.cur.dups) == 0 {
		return
	}
	ps.out <- ps.cur
	ps.cur = &chunk{dups: map[[32]byte]int{}}
}
