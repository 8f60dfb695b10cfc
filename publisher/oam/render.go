package oam

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes, as RFC 6749 section 5.2 and RFC 7009 spell them.
const (
	codeInvalidRequest  = "invalid_request"
	codeInvalidClient   = "invalid_client"
	codeAccessDenied    = "access_denied"
	codeTooManyRequests = "too_many_requests"
	codeUnavailable     = "temporarily_unavailable"
	codeQuotaExceeded   = "quota_exceeded"
)

// success is the 200 answer OAM documents: {"status":"success"}.
type success struct {
	Status string `json:"status"`
}

// errorBody is every error answer. Oracle names its error schema ErrorCode
// without documenting its fields; this is the RFC 6749 shape OAuth clients
// already understand.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func sendError(w http.ResponseWriter, status int, code, desc string) {
	send(w, status, errorBody{Error: code, Description: desc})
}

// send writes v as compact JSON (no HTML escaping, no trailing newline) with
// the headers every answer carries.
func send(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // only our own types of strings: cannot fail
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
