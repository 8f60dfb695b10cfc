package eventsio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// checkText refuses what encoding/json would read as something other than
// what the line says: invalid UTF-8 (it becomes U+FFFD, so a name would
// change) and a leading byte order mark. Export writes neither.
func checkText(line []byte) error {
	if bytes.HasPrefix(line, []byte("\ufeff")) {
		return errors.New("the line starts with a byte order mark (U+FEFF): export writes none; remove it")
	}
	if !utf8.Valid(line) {
		return errors.New("the line is not UTF-8")
	}
	return nil
}

// checkKeys refuses a key encoding/json would accept though export never
// writes it: one twice (the last would win) or one in another case (it
// matches field names case-insensitively). line decoded into v already.
// It names only keys it knows, never one from the line.
func checkKeys(line []byte, v any) error {
	known := jsonKeys(reflect.TypeOf(v).Elem())
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil // not an object: strictDecode said so already
	}
	seen := make(map[string]bool, len(known))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		k, _ := t.(string)
		if !known[k] {
			return errors.New("an unknown field")
		}
		if seen[k] {
			return fmt.Errorf("the key %q twice", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

var keysOf sync.Map // reflect.Type -> map[string]bool

// jsonKeys returns the JSON names of a struct type's fields.
func jsonKeys(t reflect.Type) map[string]bool {
	if m, ok := keysOf.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = true
	}
	keysOf.Store(t, m)
	return m
}
