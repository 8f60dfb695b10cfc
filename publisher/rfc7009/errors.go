package rfc7009

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Error codes of RFC 6749 section 5.2 and RFC 7009 section 2.2.1, and
// too_many_requests for rate-limited authentication.
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidClient        = "invalid_client"
	codeUnauthorizedClient   = "unauthorized_client"
	codeUnsupportedTokenType = "unsupported_token_type"
	codeUnavailable          = "temporarily_unavailable"
	codeTooManyRequests      = "too_many_requests"
	codeQuotaExceeded        = "quota_exceeded"
)

// challenge is the WWW-Authenticate value of a 401 when the client tried
// Basic or sent no credentials (RFC 6749 section 5.2).
const challenge = `Basic realm="revocast"`

// oauthError is one error answer.
type oauthError struct {
	status     int
	code       string
	desc       string
	challenge  bool // add WWW-Authenticate
	retryAfter int  // seconds; 0 for none
}

// errorBody is the RFC 6749 section 5.2 body, keys in its order.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func invalidRequest(format string, args ...any) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: codeInvalidRequest, desc: fmt.Sprintf(format, args...)}
}

// unauthorized is the one answer to every failed client authentication, so
// it never tells whether the id exists.
func unauthorized(challenge bool) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: codeInvalidClient,
		desc: "client authentication failed", challenge: challenge}
}

// write renders e. The caller has set Cache-Control and Pragma.
func (e *oauthError) write(w http.ResponseWriter) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(errorBody{Error: e.code, Description: e.desc}) // two strings: cannot fail
	h := w.Header()
	if e.challenge {
		h.Set("WWW-Authenticate", challenge)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.status)
	_, _ = w.Write(buf.Bytes())
}
