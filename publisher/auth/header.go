package auth

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// MaxHeaderLen bounds the Authorization values these parsers look at.
const MaxHeaderLen = 4096

// scheme splits "Scheme credentials" when the scheme matches (case-insensitive).
func scheme(h, name string) (string, bool) {
	if len(h) > MaxHeaderLen || len(h) <= len(name)+1 || !strings.EqualFold(h[:len(name)], name) || h[len(name)] != ' ' {
		return "", false
	}
	return strings.TrimSpace(h[len(name)+1:]), true
}

func decodeB64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// ParseBasic parses "Basic base64(id:secret)" (RFC 7617).
func ParseBasic(h string) (id, secret string, ok bool) {
	c, ok := scheme(h, "Basic")
	if !ok {
		return "", "", false
	}
	b, ok := decodeB64(c)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(b), ":")
	if !ok || id == "" {
		return "", "", false
	}
	return id, secret, true
}

// BasicCandidates returns the ways to read Basic credentials an OAuth client
// sent: RFC 6749 section 2.3.1 has clients form-urlencode the id and secret
// before base64 (openid-client does), many clients do not. The decoded form
// comes first when it differs.
func BasicCandidates(id, secret string) []Creds {
	did, err1 := url.QueryUnescape(id)
	dsec, err2 := url.QueryUnescape(secret)
	if err1 == nil && err2 == nil && (did != id || dsec != secret) {
		return []Creds{{did, dsec}, {id, secret}}
	}
	return []Creds{{id, secret}}
}

// ParseAPIKey parses Elasticsearch's "ApiKey base64(id:key)".
func ParseAPIKey(h string) (id, key string, ok bool) {
	c, ok := scheme(h, "ApiKey")
	if !ok {
		return "", "", false
	}
	b, ok := decodeB64(c)
	if !ok {
		return "", "", false
	}
	id, key, ok = strings.Cut(string(b), ":")
	if !ok || id == "" || key == "" {
		return "", "", false
	}
	return id, key, true
}

// ParseOneLogin parses OneLogin's "client_id:<id>, client_secret:<secret>"
// (either order, keys case-insensitive, spaces around parts ignored).
func ParseOneLogin(h string) (id, secret string, ok bool) {
	if len(h) > MaxHeaderLen {
		return "", "", false
	}
	parts := strings.Split(h, ",")
	if len(parts) != 2 {
		return "", "", false
	}
	var haveID, haveSecret bool
	for _, p := range parts {
		k, v, found := strings.Cut(strings.TrimSpace(p), ":")
		if !found {
			return "", "", false
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "client_id":
			id, haveID = v, true
		case "client_secret":
			secret, haveSecret = v, true
		default:
			return "", "", false
		}
	}
	if !haveID || !haveSecret || id == "" || secret == "" {
		return "", "", false
	}
	return id, secret, true
}
