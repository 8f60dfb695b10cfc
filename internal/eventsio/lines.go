package eventsio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// lineReader reads lines of at most MaxLine bytes (newline included),
// counting them from 1.
type lineReader struct {
	r    *bufio.Reader
	line int64
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, MaxLine)}
}

// errLineTooLong is returned for a line over MaxLine.
var errLineTooLong = fmt.Errorf("%w: longer than %d bytes", ErrFormat, MaxLine-1)

// next returns the next line without its line ending, valid until the next
// call; io.EOF at the end. A line that is too long is an error: the rest
// of the file is not read.
func (l *lineReader) next() ([]byte, error) {
	b, err := l.r.ReadSlice('\n')
	if len(b) == 0 && errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	l.line++
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, errLineTooLong
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("read: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'}), nil
}
