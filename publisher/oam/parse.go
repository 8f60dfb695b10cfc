package oam

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

// Where the identity domain comes from, and the body's media type.
const (
	headerDomain = "x-oauth-identity-domain-name"
	queryDomain  = "identityDomain"
	mediaForm    = "application/x-www-form-urlencoded"
)

// singleParams may be given at most once: which of two values was meant is
// not guessed.
var singleParams = []string{"token", "token_type", "token_type_hint", "chaining_level"}

var (
	// token_type, keyed in upper case.
	tokenTypes = map[string]string{"REFRESH_TOKEN": events.RefreshToken, "ACCESS_TOKEN": events.AccessToken, "NONE": ""}
	// RFC 7009's token_type_hint, keyed in upper case.
	typeHints = map[string]string{"REFRESH_TOKEN": events.RefreshToken, "ACCESS_TOKEN": events.AccessToken}
	chainings = map[string]publisher.Chaining{"NONE": publisher.ChainNone,
		"RELATED_TOKENS": publisher.ChainRelatedTokens, "RELATED_CONSENT": publisher.ChainRelatedConsent}
)

// invalidError is a request the client must fix: its status (400, or 413
// for a body over the limit) and the error_description it is told.
type invalidError struct {
	status int
	desc   string
	err    error // the cause, if any
}

func (e *invalidError) Error() string {
	if e.err != nil {
		return e.desc + ": " + e.err.Error()
	}
	return e.desc
}

func (e *invalidError) Unwrap() error { return e.err }

func invalid(format string, a ...any) *invalidError {
	return &invalidError{status: http.StatusBadRequest, desc: fmt.Sprintf(format, a...)}
}

// parseRequest reads an authenticated request into a canonical one (without
// Op, Principal and Client). Every error is an *invalidError.
func parseRequest(r *http.Request, maxBody int64) (publisher.Request, error) {
	var req publisher.Request
	if t, _, ok := publisher.MediaType(r.Header.Get("Content-Type")); !ok || t != mediaForm {
		return req, invalid("Content-Type must be %s", mediaForm)
	}
	raw, err := publisher.ReadBody(r, maxBody)
	if errors.Is(err, publisher.ErrBodyTooLarge) {
		return req, &invalidError{status: http.StatusRequestEntityTooLarge,
			desc: fmt.Sprintf("request body is larger than %d bytes", maxBody), err: err}
	}
	if err != nil {
		return req, &invalidError{status: http.StatusBadRequest, desc: "the request body could not be read", err: err}
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return req, &invalidError{status: http.StatusBadRequest,
			desc: "the request body is not valid " + mediaForm + " data", err: fmt.Errorf("parse form: %w", err)}
	}
	for _, k := range singleParams {
		if len(form[k]) > 1 {
			return req, invalid("parameter %s is given more than once", k)
		}
	}
	if req.Realm, err = identityDomain(r); err != nil {
		return req, err
	}

	received := form.Get("token")
	if received == "" {
		return req, invalid("token is required")
	}
	if len(received) > publisher.MaxTokenLen {
		return req, invalid("token is longer than %d bytes", publisher.MaxTokenLen)
	}
	canonical, others := spellings(received)
	if canonical == "" { // nothing but line breaks and blanks
		return req, invalid("token is required")
	}
	if req.TokenType, err = tokenType(form.Get("token_type"), form.Get("token_type_hint")); err != nil {
		return req, err
	}
	if req.Chaining, err = chaining(form.Get("chaining_level")); err != nil {
		return req, err
	}
	ref := publisher.RefFromToken(canonical)
	req.Token = &ref
	for _, s := range others {
		req.Aliases = append(req.Aliases, publisher.RefFromToken(s))
	}
	return req, nil
}

// identityDomain reads the header, else the query parameter; empty values
// count as absent, and two values of the one used are refused.
func identityDomain(r *http.Request) (string, error) {
	var name string
	if vs := nonEmpty(r.Header.Values(headerDomain)); len(vs) > 1 {
		return "", invalid("header %s is given more than once", headerDomain)
	} else if len(vs) == 1 {
		name = vs[0]
	} else if vs := nonEmpty(r.URL.Query()[queryDomain]); len(vs) > 1 {
		return "", invalid("parameter %s is given more than once", queryDomain)
	} else if len(vs) == 1 {
		name = vs[0]
	}
	if name == "" {
		return "", invalid("the identity domain is required: send the %s header or the %s query parameter", headerDomain, queryDomain)
	}
	if len(name) > publisher.MaxNameLen {
		return "", invalid("the identity domain is longer than %d bytes", publisher.MaxNameLen)
	}
	return name, nil
}

func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// tokenType maps OAM's token_type and RFC 7009's token_type_hint to an
// events token type ("" when unknown). NONE says nothing, so a hint next to
// it is taken; a type and a hint that name different types are refused.
func tokenType(typ, hint string) (string, error) {
	var fromType, fromHint string
	var ok bool
	if typ != "" {
		if fromType, ok = tokenTypes[upperASCII(typ)]; !ok {
			return "", invalid("token_type must be one of REFRESH_TOKEN, ACCESS_TOKEN, NONE")
		}
	}
	if hint != "" {
		if fromHint, ok = typeHints[upperASCII(hint)]; !ok {
			return "", invalid("token_type_hint must be one of refresh_token, access_token")
		}
	}
	if fromType != "" && fromHint != "" && fromType != fromHint {
		return "", invalid("token_type and token_type_hint name different token types")
	}
	if fromType != "" {
		return fromType, nil
	}
	return fromHint, nil
}

func chaining(v string) (publisher.Chaining, error) {
	if v == "" {
		return publisher.ChainNone, nil
	}
	c, ok := chainings[upperASCII(v)]
	if !ok {
		return "", invalid("chaining_level must be one of NONE, RELATED_TOKENS, RELATED_CONSENT")
	}
	return c, nil
}

// upperASCII upper-cases ASCII letters only, so that no Unicode case
// folding (the Kelvin sign, the long s) turns a stranger into a keyword.
func upperASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// lineBreaks removes CR and LF.
var lineBreaks = strings.NewReplacer("\r", "", "\n", "")

// spellings returns the token a client meant and the other spellings it
// literally sent. Oracle's curl sample passes an already percent-encoded
// token, broken over lines, to --data-urlencode: what arrives is the value
// with its escapes and line breaks. The canonical token is the value without
// line breaks and surrounding blanks, percent-decoded when it holds a valid
// escape (and decodes to something without line breaks); the received and
// cleaned values are returned as others when they differ from it. It
// returns "" only when nothing is left once line breaks and blanks go.
func spellings(received string) (canonical string, others []string) {
	clean := strings.Trim(lineBreaks.Replace(received), " \t")
	canonical = clean
	if strings.Contains(clean, "%") {
		if d, err := url.PathUnescape(clean); err == nil && d != "" && !strings.ContainsAny(d, "\r\n") {
			canonical = d
		}
	}
	for _, s := range []string{received, clean} {
		if s != "" && s != canonical && (len(others) == 0 || others[0] != s) {
			others = append(others, s)
		}
	}
	return canonical, others
}
