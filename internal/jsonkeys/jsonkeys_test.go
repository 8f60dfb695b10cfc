package jsonkeys

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDuplicate(t *testing.T) {
	for _, c := range []struct {
		raw  string
		dup  bool
		name string
	}{
		{`{"token":"abc","token":"def"}`, true, "token"},
		{`{"token":"abc","TOKEN":"def"}`, true, "TOKEN"},
		{`{"jwt_id":{"iss":"a","jti":"b","jti":"c"}}`, true, "jti"},
		{`{"jwt_id":{"iss":"a","jti":"b"},"jwt_id":{"iss":"a","jti":"c"}}`, true, "jwt_id"},
		{`{"a":1,"\u0061":2}`, true, "a"},
		{`{"a":[{"b":1},{"b":2}],"c":"a"}`, false, ""},
		{`{"a":"{\"a\":1,\"a\":2}","b":["a","a"]}`, false, ""},
		{`{"jwt_id":{"iss":"a","jti":"b"},"realm":"r"}`, false, ""},
		{`[{"a":1},{"a":1}]`, false, ""},
		{`{"a":{"x":1},"b":{"x":1}}`, false, ""},
	} {
		err := Duplicate([]byte(c.raw))
		if got := errors.Is(err, ErrDuplicate); got != c.dup {
			t.Errorf("%s: %v, want duplicate %v", c.raw, err, c.dup)
		}
	}
}

// FuzzDuplicate: never a panic, and on every valid JSON object the answer
// agrees with decoding it into a map (a name twice, ignoring case, loses a
// value or collides).
func FuzzDuplicate(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":"\""}]}}`, `{"A":1,"a":2}`, `{"\\":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := Duplicate(raw)
		var top map[string]json.RawMessage
		if json.Unmarshal(raw, &top) != nil {
			return
		}
		if err == nil {
			// No duplicate reported: the top level's names are distinct
			// even ignoring ASCII case.
			seen := map[string]bool{}
			for k := range top {
				lk := lowerASCII(k)
				if seen[lk] {
					t.Fatalf("%q: names %q collide ignoring case, not reported", raw, k)
				}
				seen[lk] = true
			}
		}
	})
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
