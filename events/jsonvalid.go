package events

// validJSON reports whether b is one valid JSON value (RFC 8259, as
// encoding/json.Valid reads it) without allocating: encoding/json.Valid
// makes its argument escape, and the check path reads the JOSE header of
// every presented JWT. Nesting is tracked in a bit stack, one bit per level
// (object or array); b is at most maxHeaderDecode bytes, so it cannot nest
// deeper than the stack holds.
func validJSON(b []byte) bool {
	var stack [maxHeaderDecode/64 + 1]uint64
	depth := 0
	push := func(obj bool) bool {
		if depth >= len(stack)*64 {
			return false
		}
		if obj {
			stack[depth/64] |= 1 << (depth % 64)
		} else {
			stack[depth/64] &^= 1 << (depth % 64)
		}
		depth++
		return true
	}
	inObject := func() bool { return stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0 }

	i := skipSpace(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if !push(c == '{') {
				return false
			}
			i = skipSpace(b, i+1)
			closing := byte(']')
			if c == '{' {
				closing = '}'
			}
			if i < len(b) && b[i] == closing {
				depth--
				i++
				break
			}
			if c == '{' {
				if i = objectKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case c == '"':
			if i = skipString(b, i); i < 0 {
				return false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if i = skipNumber(b, i); i < 0 {
				return false
			}
		default:
			var ok bool
			if i, ok = literal(b, i); !ok {
				return false
			}
		}
		// After a value: close containers, or go on to the next member.
		for {
			i = skipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			obj := inObject()
			switch {
			case b[i] == ',':
				i = skipSpace(b, i+1)
				if obj {
					if i = objectKey(b, i); i < 0 {
						return false
					}
				}
			case (obj && b[i] == '}') || (!obj && b[i] == ']'):
				depth--
				i++
				continue
			default:
				return false
			}
			break
		}
	}
}

// objectKey reads `"name" :` at b[i] and returns the index of the value, or -1.
func objectKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = skipString(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// skipString returns the index after the string at b[i], or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// skipNumber returns the index after the number at b[i], or -1.
func skipNumber(b []byte, i int) int {
	digits := func(i int) (int, bool) {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i, i > start
	}
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return -1
	}
	if b[i] == '0' {
		i++
	} else {
		var ok bool
		if i, ok = digits(i); !ok {
			return -1
		}
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return -1
		}
	}
	return i
}

func literal(b []byte, i int) (int, bool) {
	for _, lit := range []string{"true", "false", "null"} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return i, false
}
