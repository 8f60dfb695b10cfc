package registry

import (
	"bytes"
	"io"
	"net/http"
)

// containsNewlineRecord tells NDJSON (several lines with records) from one
// pretty-printed JSON object on the bus: NDJSON has a line starting a new
// object after the first.
func containsNewlineRecord(b []byte) bool {
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n"))[1:] {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
			return true
		}
	}
	return false
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// discard is a ResponseWriter for bus answers, which go back as a reply.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
