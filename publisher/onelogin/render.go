package onelogin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Status is the body of every answer, keys in OneLogin's order.
type Status struct {
	Error   bool   `json:"error"`
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Response is the envelope OneLogin wraps every answer in.
type Response struct {
	Status Status `json:"status"`
}

// Types and messages of OneLogin's documented answers.
const (
	typeSuccess      = "success"
	typeBadRequest   = "bad request"
	typeUnauthorized = "Unauthorized"
	typeNotFound     = "not found"

	msgSuccess        = "Success"
	msgContentType    = "Content Type is not specified or specified incorrectly. Content-Type header must be set to application/json"
	msgTokenMissing   = "Access Token Missing"
	msgAuthMissing    = "The authorization information is missing"
	msgAuthFailure    = "Authentication Failure"
	msgNoRoute        = "No Route Exists"
	msgTokenTooLong   = "Access Token too long"
	msgUnreadableBody = "The request body could not be read"
	msgUnavailable    = "The revocation could not be stored; nothing was revoked; retry"
)

// Types of the answers OneLogin does not document, in the same style.
const (
	typeForbidden   = "Forbidden"
	typeTooMany     = "Too Many Requests"
	typeTooLarge    = "payload too large"
	typeUnavailable = "service unavailable"
)

const (
	mediaJSON = "application/json"
	// maxEchoedNameLength cuts the names echoed in a 403.
	maxEchoedNameLength = 256
)

// marshal renders a status compactly, without HTML escaping and without a
// trailing newline, as OneLogin's documented bodies are.
func marshal(code int, typ, msg string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(Response{Status{Error: code != http.StatusOK, Code: code, Type: typ, Message: msg}}) // our own type: cannot fail
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// send writes one answer with its headers.
func send(w http.ResponseWriter, code int, typ, msg string) {
	b := marshal(code, typ, msg)
	h := w.Header()
	h.Set("Content-Type", mediaJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// truncate cuts s to n bytes for echoing, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
