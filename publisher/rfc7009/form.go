package rfc7009

import (
	"errors"
	"net/http"
	"net/url"
	"sort"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

const mediaForm = "application/x-www-form-urlencoded"

// The parameters this endpoint reads; any other is ignored (RFC 6749
// section 3.2).
const (
	paramToken        = "token"
	paramHint         = "token_type_hint"
	paramClientID     = "client_id"
	paramClientSecret = "client_secret"
)

var known = map[string]bool{paramToken: true, paramHint: true, paramClientID: true, paramClientSecret: true}

// readForm reads the form body. A parameter with an empty value counts as
// absent (RFC 6749 section 3.1), so it is left out of the map; one given
// more than once is refused.
func readForm(r *http.Request, limit int64) (map[string]string, *oauthError) {
	if t, _, ok := publisher.MediaType(r.Header.Get("Content-Type")); !ok || t != mediaForm {
		return nil, invalidRequest("Content-Type must be %s", mediaForm)
	}
	raw, err := publisher.ReadBody(r, limit)
	if errors.Is(err, publisher.ErrBodyTooLarge) {
		e := invalidRequest("request body is larger than %d bytes", limit)
		e.status = http.StatusRequestEntityTooLarge
		return nil, e
	}
	if err != nil {
		return nil, invalidRequest("request body could not be read")
	}
	vals, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, invalidRequest("request body is not valid %s", mediaForm)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same body always gets the same answer
	form := make(map[string]string, len(vals))
	for _, k := range keys {
		n := 0
		for _, v := range vals[k] {
			if v != "" {
				n++
				form[k] = v
			}
		}
		if n > 1 {
			if known[k] {
				return nil, invalidRequest("parameter %s is given more than once", k)
			}
			// An unknown name is not echoed: it may be a token sent without "token=".
			return nil, invalidRequest("a parameter is given more than once")
		}
	}
	return form, nil
}

// tokenRequest builds the canonical request from the token parameters.
func tokenRequest(form map[string]string) (publisher.Request, *oauthError) {
	token := form[paramToken]
	if token == "" {
		return publisher.Request{}, invalidRequest("token is required")
	}
	if len(token) > publisher.MaxTokenLen {
		return publisher.Request{}, invalidRequest("token is longer than %d bytes", publisher.MaxTokenLen)
	}
	var typ string
	switch form[paramHint] {
	case "":
	case "access_token":
		typ = events.AccessToken
	case "refresh_token":
		typ = events.RefreshToken
	default:
		return publisher.Request{}, &oauthError{status: http.StatusBadRequest, code: codeUnsupportedTokenType,
			desc: "token_type_hint must be access_token or refresh_token"}
	}
	ref := publisher.RefFromToken(token)
	return publisher.Request{Token: &ref, TokenType: typ}, nil
}
