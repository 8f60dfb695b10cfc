package revocations

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// duplicateKey returns an error naming the first name an object of raw
// holds twice. encoding/json lets the last one win, and matches names
// without regard to case, so {"token":"a","TOKEN":"b"} revoked b while a
// proxy, a log or a reviewer reading the first saw a.
func duplicateKey(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		obj   bool
		key   bool // the next token of an object is a name
		names map[string]bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // Parse reports syntax errors
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].key = true
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].key {
			name := strings.ToLower(tok.(string))
			if stack[n-1].names[name] {
				return fmt.Errorf("the body names %q twice", tok.(string))
			}
			stack[n-1].names[name] = true
			stack[n-1].key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, key: true, names: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, frame{})
		default:
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].key = true
			}
		}
	}
}
