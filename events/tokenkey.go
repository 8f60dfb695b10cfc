package events

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unsafe"
)

// A token's revocation key is derived from what its signature protects, not
// from the characters a client sent: base64url is malleable (the last
// character of a segment carries unused low bits that lenient decoders
// ignore) and ECDSA signatures have a high-s twin, so a JWT has many
// spellings that every JOSE library accepts. Keying on the text would let a
// thief present a revoked token in a spelling nobody revoked.
//
//   - JWS in compact form (three segments, the first decoding to a JSON
//     object with "alg"): SHA-256 of the signing input, the first two
//     segments and the dot between them, exactly as sent. The signature
//     covers those bytes, so no other spelling of them verifies.
//   - JWE in compact form (five segments, the first decoding to a JSON object
//     with "alg"): SHA-256 over the decoded bytes of the five segments, each
//     preceded by its length as 4 big-endian bytes.
//   - Anything else (an opaque token): SHA-256 of the token.
//
// An issuer computes token_sha256 the same way; `revocast hash-token` prints it.

// TokenForm is how TokenKey read a token.
type TokenForm int

// Forms.
const (
	FormOpaque TokenForm = iota
	FormJWS
	FormJWE
)

func (f TokenForm) String() string { return [...]string{"opaque", "jws", "jwe"}[f] }

// maxHeaderDecode bounds the JOSE header decoded on the stack; longer
// headers are decoded on the heap.
const maxHeaderDecode = 768

// TokenKey returns the revocation key of a token (see above). It does not
// allocate for opaque tokens and JWS: the check path keys every presented
// token.
func TokenKey(token string) Sum {
	k, _ := TokenKeyForm(token)
	return k
}

// TokenKeyForm returns the revocation key and the form it was derived from.
func TokenKeyForm(token string) (Sum, TokenForm) {
	if end, ok := SigningInputEnd(token); ok {
		return sha256.Sum256(bytesOf(token[:end])), FormJWS
	}
	if k, ok := jweKey(token); ok {
		return k, FormJWE
	}
	return sha256.Sum256(bytesOf(token)), FormOpaque
}

// LegacyTokenKey is the key revocast used before version 2 of the event
// schema: the SHA-256 of the token's text. A sidecar still consults it for a
// JWS while revocations written that way can be live.
func LegacyTokenKey(token string) Sum { return sha256.Sum256(bytesOf(token)) }

// JTIKey returns the revocation key of the JWT with issuer iss and JWT ID
// jti, for revocations made without the token (an identity provider's
// signal, the registry). It is domain-separated from token keys.
func JTIKey(iss, jti string) Sum {
	h := sha256.New()
	h.Write([]byte("revocast-jti\x00"))
	var n [4]byte
	for _, f := range []string{iss, jti} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var s Sum
	h.Sum(s[:0])
	return s
}

// SigningInputEnd reports whether token is a JWS in compact form and returns
// the length of its signing input (the index of the second dot).
func SigningInputEnd(token string) (int, bool) {
	first := strings.IndexByte(token, '.')
	if first <= 0 {
		return 0, false
	}
	second := strings.IndexByte(token[first+1:], '.')
	if second < 0 {
		return 0, false
	}
	second += first + 1
	if strings.IndexByte(token[second+1:], '.') >= 0 {
		return 0, false
	}
	if !joseHeader(token[:first]) {
		return 0, false
	}
	return second, true
}

// jweKey keys a five-segment JWE by its decoded segments.
func jweKey(token string) (Sum, bool) {
	if strings.Count(token, ".") != 4 {
		return Sum{}, false
	}
	first := strings.IndexByte(token, '.')
	if first <= 0 || !joseHeader(token[:first]) {
		return Sum{}, false
	}
	h := sha256.New()
	var buf [3 * 256]byte
	var n [4]byte
	rest := token
	for i := 0; i < 5; i++ {
		seg := rest
		if j := strings.IndexByte(rest, '.'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		}
		seg = strings.TrimRight(seg, "=")
		size := base64.RawURLEncoding.DecodedLen(len(seg))
		binary.BigEndian.PutUint32(n[:], uint32(size))
		h.Write(n[:])
		// Decode in blocks of 4*256 characters so no segment needs a
		// buffer of its own size; only the last block may be partial.
		for len(seg) > 0 {
			chunk := seg[:min(len(seg), 4*256)]
			seg = seg[len(chunk):]
			m, err := base64.RawURLEncoding.Decode(buf[:], bytesOf(chunk))
			if err != nil {
				return Sum{}, false
			}
			h.Write(buf[:m])
		}
	}
	var s Sum
	h.Sum(s[:0])
	return s, true
}

// joseHeader reports whether seg (base64url, padding optional, trailing bits
// ignored as lenient decoders ignore them) decodes to a JSON object with a
// top-level "alg" member.
func joseHeader(seg string) bool {
	seg = strings.TrimRight(seg, "=")
	if len(seg) < 8 { // {"alg":x} is at least 9 bytes, 12 characters
		return false
	}
	if base64.RawURLEncoding.DecodedLen(len(seg)) > maxHeaderDecode {
		// A rare header: decoded on the heap, checked by encoding/json.
		b, err := base64.RawURLEncoding.DecodeString(seg)
		return err == nil && json.Valid(b) && hasTopLevelKey(b, "alg")
	}
	var buf [maxHeaderDecode]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], bytesOf(seg))
	if err != nil {
		return false
	}
	return validJSON(buf[:n]) && hasTopLevelKey(buf[:n], "alg")
}

// hasTopLevelKey reports whether the valid JSON text b is an object with a
// member named key (after unescaping, as a JSON decoder reads names).
func hasTopLevelKey(b []byte, key string) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return false // '}' of an empty object, or nothing left
		}
		match, next, ok := nameIs(b, i, key)
		if !ok {
			return false
		}
		if match {
			return true
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipValue(b, skipSpace(b, i+1))
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return false
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// nameIs reads the string starting at b[i] (a '"'), decoding escapes, and
// reports whether it equals want. It returns the index after the closing
// quote.
func nameIs(b []byte, i int, want string) (bool, int, bool) {
	n, same := 0, true
	put := func(c byte) {
		if n >= len(want) || want[n] != c {
			same = false
		}
		n++
	}
	for i++; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			return same && n == len(want), i + 1, true
		case c == '\\' && i+1 < len(b):
			i++
			switch e := b[i]; e {
			case 'u':
				if i+4 >= len(b) {
					return false, 0, false
				}
				var r uint16
				for _, h := range b[i+1 : i+5] {
					r <<= 4
					switch {
					case h >= '0' && h <= '9':
						r |= uint16(h - '0')
					case h >= 'a' && h <= 'f':
						r |= uint16(h - 'a' + 10)
					case h >= 'A' && h <= 'F':
						r |= uint16(h - 'A' + 10)
					default:
						return false, 0, false
					}
				}
				i += 4
				if r < 0x80 {
					put(byte(r))
				} else {
					same = false // not ASCII: never part of the names looked for
				}
			case 'b':
				put('\b')
			case 'f':
				put('\f')
			case 'n':
				put('\n')
			case 'r':
				put('\r')
			case 't':
				put('\t')
			default: // '"', '\\', '/'
				put(e)
			}
		default:
			put(c)
		}
	}
	return false, 0, false
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	depth, inStr := 0, false
	for ; i < len(b); i++ {
		c := b[i]
		if inStr {
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
				if depth == 0 {
					return i + 1
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// bytesOf views a string's bytes without copying; the callee must not keep
// or modify them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
