package registry

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher/auth"
)

// parser validates lines into chunks; its errors are about the input.
type parser struct {
	principal *auth.Principal // nil: a trusted issuer on the bus, every realm
	lim       limits
	now       time.Time
	cur       *chunk
	out       chan<- *chunk
	stop      atomic.Bool // the store is failing: read no further
}

func (ps *parser) parse(body io.Reader, single bool) {
	ps.cur = newChunk()
	defer ps.flush()
	if single {
		b, err := io.ReadAll(io.LimitReader(body, MaxLineLen+1))
		switch {
		case err != nil:
			ps.cur.cut = cutError(1, err)
		case len(b) > MaxLineLen:
			ps.refuse(1, invalid("record longer than %d bytes", MaxLineLen))
		default:
			ps.line(1, b)
		}
		return
	}
	br := bufio.NewReaderSize(body, 64<<10)
	for n := 1; ; n++ {
		if ps.stop.Load() {
			ps.cur.cut = fmt.Errorf("the token store is failing (see the errors): nothing from line %d on was read", n)
			return
		}
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) { // the line was cut: none of it is used
			ps.cur.cut = cutError(n, err)
			return
		}
		end := err != nil && len(line) == 0 && !tooLong // after the last line ending
		if n > ps.lim.maxLines && !end {
			ps.cur.cut = fmt.Errorf("the body has more than %d lines (the line cap, --max-registry-lines): nothing from line %d on was read",
				ps.lim.maxLines, n)
			return
		}
		switch {
		case tooLong:
			ps.refuse(n, invalid("line longer than %d bytes", MaxLineLen))
		case len(bytes.TrimSpace(line)) > 0:
			ps.line(n, line)
		}
		if err != nil { // io.EOF
			return
		}
		if ps.cur.read++; ps.cur.read >= chunkLines {
			ps.flush()
			if ps.lim.progress != nil {
				ps.lim.progress()
			}
		}
	}
}

// cutError says why the body ended before its end, at line n.
func cutError(n int, err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("the body is larger than %d bytes: nothing from line %d on was read", tooBig.Limit, n)
	}
	return fmt.Errorf("could not read the body: %w: nothing from line %d on was read", err, n)
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
		ps.refuse(n, err)
		return
	}
	r, err := inp.Validate(ps.now, ps.lim.maxLifetime)
	if err != nil {
		ps.refuse(n, err)
		return
	}
	if ps.principal != nil && !ps.principal.InRealm(r.Realm) {
		ps.refuse(n, invalid("%s may not register tokens of realm [%s]", ps.principal, r.Realm))
		return
	}
	if ps.lim.realmKey != "" && events.RealmKey(r.Realm) != ps.lim.realmKey {
		ps.refuse(n, invalid("realm [%s] is not the realm of the subject this was sent on", r.Realm))
		return
	}
	c := ps.cur
	id := recordID{realm: r.Realm, sum: r.Sum}
	if i, seen := c.first[id]; seen {
		if !sameRecord(&c.recs[i], &r) {
			ps.refuse(n, fmt.Errorf("%w (line %d of this request)", ErrConflict, c.lines[i]))
			return
		}
		c.items = append(c.items, item{line: n, rec: i, repeat: true})
		return
	}
	c.first[id] = len(c.recs)
	c.items = append(c.items, item{line: n, rec: len(c.recs)})
	c.recs = append(c.recs, r)
	c.lines = append(c.lines, n)
}

func (ps *parser) refuse(n int, err error) {
	ps.cur.items = append(ps.cur.items, item{line: n, err: err})
}

// flush hands the chunk on (when there is anything in it to account for).
func (ps *parser) flush() {
	if len(ps.cur.items) == 0 && ps.cur.cut == nil {
		ps.cur.read = 0
		return
	}
	ps.out <- ps.cur
	ps.cur = newChunk()
}
