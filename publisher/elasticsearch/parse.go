package elasticsearch

import (
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// body is the parsed request body; nil fields were absent.
type body struct {
	token, refreshToken, realmName, username *string
}

// parseError is an Elasticsearch x_content_parse_exception (or the like).
type parseError struct {
	typ, reason string
	cause       *cause
}

type cause struct{ typ, reason string }

func (e *parseError) Error() string { return e.reason }

const parserName = "invalidate_token"

// scanner walks a JSON text tracking line and column as Jackson reports them
// (1-based, in bytes).
type scanner struct {
	b         []byte
	i         int
	line      int
	lineStart int
}

func (s *scanner) loc(at, line, lineStart int) string {
	return fmt.Sprintf("[%d:%d]", line, at-lineStart+1)
}

func (s *scanner) here() string { return s.loc(s.i, s.line, s.lineStart) }

func (s *scanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			s.i++
			s.line++
			s.lineStart = s.i
		default:
			return
		}
	}
}

func (s *scanner) syntax(expecting string) *parseError {
	if s.i >= len(s.b) {
		return &parseError{typ: "x_content_parse_exception",
			reason: s.here() + " Unexpected end-of-input: expected close marker for Object"}
	}
	c := s.b[s.i]
	return &parseError{typ: "x_content_parse_exception",
		reason: fmt.Sprintf("%s Unexpected character (%s (code %d)): %s", s.here(), quoteChar(c), c, expecting)}
}

func quoteChar(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("CTRL-CHAR, code %d", c)
	}
	return "'" + string(c) + "'"
}

// tokenName names the JSON token starting at s.i as Elasticsearch's XContent does.
func (s *scanner) tokenName() string {
	switch c := s.b[s.i]; {
	case c == '{':
		return "START_OBJECT"
	case c == '[':
		return "START_ARRAY"
	case c == '"':
		return "VALUE_STRING"
	case c == 't' || c == 'f':
		return "VALUE_BOOLEAN"
	case c == 'n':
		return "VALUE_NULL"
	case c == '-' || (c >= '0' && c <= '9'):
		return "VALUE_NUMBER"
	}
	return ""
}

// str reads a JSON string starting at the opening quote at s.i.
func (s *scanner) str() (string, *parseError) {
	start := s.i
	j := s.i + 1
	for j < len(s.b) {
		switch s.b[j] {
		case '\\':
			j += 2
			continue
		case '"':
			var v string
			if err := json.Unmarshal(s.b[start:j+1], &v); err != nil {
				return "", &parseError{typ: "x_content_parse_exception",
					reason: s.here() + " Invalid string value: " + cleanJSONErr(err)}
			}
			if !utf8.Valid(s.b[start : j+1]) {
				return "", &parseError{typ: "x_content_parse_exception", reason: s.here() + " Invalid UTF-8 in string value"}
			}
			s.i = j + 1
			return v, nil
		case '\n':
			s.i = j
			return "", &parseError{typ: "x_content_parse_exception",
				reason: s.here() + " Illegal unquoted character ((CTRL-CHAR, code 10)): has to be escaped using backslash to be included in string value"}
		}
		j++
	}
	s.i = len(s.b)
	return "", &parseError{typ: "x_content_parse_exception",
		reason: s.here() + " Unexpected end-of-input: was expecting closing quote for a string value"}
}

func cleanJSONErr(err error) string {
	msg := err.Error()
	const p = "json: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

// parseBody parses an invalidate-token body the way Elasticsearch does:
// an object of optional string fields; unknown fields, duplicate fields and
// values of other types are errors reported at their position. Content after
// the object is ignored, as Elasticsearch ignores it.
func parseBody(b []byte) (*body, *parseError) {
	s := &scanner{b: b, line: 1}
	s.skipWS()
	if s.i >= len(s.b) {
		return nil, &parseError{typ: "parse_exception", reason: "request body is required"}
	}
	if s.b[s.i] != '{' {
		name := s.tokenName()
		if name == "" {
			return nil, s.syntax("expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')")
		}
		return nil, &parseError{typ: "x_content_parse_exception",
			reason: fmt.Sprintf("%s [%s] Expected START_OBJECT but was: %s", s.here(), parserName, name)}
	}
	s.i++
	out := &body{}
	seen := map[string]bool{}
	for first := true; ; first = false {
		s.skipWS()
		if s.i >= len(s.b) {
			return nil, s.syntax("")
		}
		if s.b[s.i] == '}' && first {
			break
		}
		if s.b[s.i] != '"' {
			return nil, s.syntax("was expecting double-quote to start field name")
		}
		keyLoc := s.here()
		key, perr := s.str()
		if perr != nil {
			return nil, perr
		}
		var dst **string
		switch key {
		case "token":
			dst = &out.token
		case "refresh_token":
			dst = &out.refreshToken
		case "realm_name":
			dst = &out.realmName
		case "username":
			dst = &out.username
		default:
			return nil, &parseError{typ: "x_content_parse_exception",
				reason: fmt.Sprintf("%s [%s] unknown field [%s]", keyLoc, parserName, truncate(key, 256))}
		}
		if seen[key] {
			return nil, &parseError{typ: "x_content_parse_exception",
				reason: fmt.Sprintf("%s Duplicate field '%s'", keyLoc, key)}
		}
		seen[key] = true
		s.skipWS()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return nil, s.syntax("was expecting a colon to separate field name and value")
		}
		s.i++
		s.skipWS()
		if s.i >= len(s.b) {
			return nil, s.syntax("")
		}
		if s.b[s.i] != '"' {
			name := s.tokenName()
			if name == "" {
				return nil, s.syntax("expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')")
			}
			return nil, &parseError{typ: "x_content_parse_exception",
				reason: fmt.Sprintf("%s [%s] %s doesn't support values of type: %s", s.here(), parserName, key, name)}
		}
		v, perr := s.str()
		if perr != nil {
			return nil, perr
		}
		*dst = &v
		s.skipWS()
		if s.i >= len(s.b) {
			return nil, s.syntax("")
		}
		if s.b[s.i] == ',' {
			s.i++
			s.skipWS()
			if s.i < len(s.b) && s.b[s.i] == '}' {
				return nil, s.syntax("was expecting double-quote to start field name")
			}
			continue
		}
		if s.b[s.i] == '}' {
			break
		}
		return nil, s.syntax("was expecting comma to separate Object entries")
	}
	if hasLength(out.token) && hasLength(out.refreshToken) {
		return nil, &parseError{typ: "x_content_parse_exception",
			reason: "Failed to build [invalidate_token] after last required field arrived",
			cause:  &cause{typ: "illegal_argument_exception", reason: "only one of [token, refresh_token] may be sent per request"}}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// hasLength is Elasticsearch's Strings.hasLength.
func hasLength(s *string) bool { return s != nil && *s != "" }

// hasText is Elasticsearch's Strings.hasText: some character that is not
// Java whitespace.
func hasText(s *string) bool {
	if s == nil {
		return false
	}
	for _, r := range *s {
		if !javaWhitespace(r) {
			return true
		}
	}
	return false
}

// javaWhitespace is Java's Character.isWhitespace.
func javaWhitespace(r rune) bool {
	switch {
	case r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f):
		return true
	case r == 0xa0 || r == 0x2007 || r == 0x202f:
		return false
	}
	return unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp)
}
