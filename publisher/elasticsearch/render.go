package elasticsearch

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorCause is Elasticsearch's error object, as it appears in error_details
// and (with root_cause) in error responses. Fields are in Elasticsearch's order.
type ErrorCause struct {
	Type       string              `json:"type"`
	Reason     string              `json:"reason,omitempty"`
	CausedBy   *ErrorCause         `json:"caused_by,omitempty"`
	Header     map[string][]string `json:"header,omitempty"`
	StackTrace string              `json:"stack_trace,omitempty"`
}

type errorBody struct {
	RootCause  []ErrorCause        `json:"root_cause"`
	Type       string              `json:"type"`
	Reason     string              `json:"reason"`
	CausedBy   *ErrorCause         `json:"caused_by,omitempty"`
	Header     map[string][]string `json:"header,omitempty"`
	StackTrace string              `json:"stack_trace,omitempty"`
}

type errorResponse struct {
	Error  errorBody `json:"error"`
	Status int       `json:"status"`
}

// Response is the invalidate-token answer, keys in Elasticsearch's order;
// error_details is left out when there are no errors.
type Response struct {
	InvalidatedTokens           int          `json:"invalidated_tokens"`
	PreviouslyInvalidatedTokens int          `json:"previously_invalidated_tokens"`
	ErrorCount                  int          `json:"error_count"`
	ErrorDetails                []ErrorCause `json:"error_details,omitempty"`
}

// Vendor media types the official clients send.
const (
	mediaJSON   = "application/json"
	mediaVendor = "application/vnd.elasticsearch+json"
)

// reply carries how to render one answer.
type reply struct {
	w          http.ResponseWriter
	pretty     bool
	errorTrace bool
	vendor     bool // answer in the vendor media type
}

// marshal encodes v compactly without HTML escaping, as Elasticsearch does,
// and re-indents it Jackson-style for ?pretty.
func (rp *reply) marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // only our own types: cannot fail
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if rp.pretty {
		b = jacksonPretty(b)
	}
	return append(b, '\n')
}

func (rp *reply) send(status int, v any) {
	h := rp.w.Header()
	if rp.vendor {
		h.Set("Content-Type", mediaVendor+";compatible-with=8")
	} else {
		h.Set("Content-Type", mediaJSON+"; charset=UTF-8")
	}
	// The official clients refuse a 2xx without it; Elasticsearch leaves it
	// off 401 and 403 answers.
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		h.Set("X-Elastic-Product", "Elasticsearch")
	}
	b := rp.marshal(v)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	rp.w.WriteHeader(status)
	_, _ = rp.w.Write(b)
}

// sendError renders an error response. root_cause entries are rendered
// without caused_by, as Elasticsearch renders them.
func (rp *reply) sendError(status int, typ, reason string, causedBy *ErrorCause) {
	rp.sendErrorWithHeader(status, typ, reason, causedBy, nil)
}

// sendErrorWithHeader also renders the "header" metadata Elasticsearch puts
// in security exceptions (the WWW-Authenticate values of a 401).
func (rp *reply) sendErrorWithHeader(status int, typ, reason string, causedBy *ErrorCause, header map[string][]string) {
	root := ErrorCause{Type: typ, Reason: reason, Header: header}
	body := errorBody{Type: typ, Reason: reason, CausedBy: causedBy, Header: header}
	if rp.errorTrace {
		root.StackTrace = stackTrace(typ, reason, causedBy)
		body.StackTrace = root.StackTrace
		for c := causedBy; c != nil; c = c.CausedBy {
			c.StackTrace = stackTrace(c.Type, c.Reason, c.CausedBy)
		}
	}
	body.RootCause = []ErrorCause{root}
	rp.send(status, errorResponse{Error: body, Status: status})
}

// stackTrace is what ?error_trace=true adds: revocast has no Java stack, so
// it renders the chain of causes in the shape of one.
func stackTrace(typ, reason string, cause *ErrorCause) string {
	var b bytes.Buffer
	b.WriteString("RevocastException[" + typ + ": " + reason + "]\n\tat revocast.publisher")
	for c := cause; c != nil; c = c.CausedBy {
		b.WriteString("\nCaused by: RevocastException[" + c.Type + ": " + c.Reason + "]")
	}
	return b.String()
}

// jacksonPretty re-indents compact JSON the way Elasticsearch's ?pretty
// does: two spaces, "key" : value, arrays one element per line.
func jacksonPretty(in []byte) []byte {
	var out bytes.Buffer
	depth := 0
	inStr := false
	nl := func() {
		out.WriteByte('\n')
		for i := 0; i < depth; i++ {
			out.WriteString("  ")
		}
	}
	for i := 0; i < len(in); i++ {
		c := in[i]
		if inStr {
			out.WriteByte(c)
			if c == '\\' && i+1 < len(in) {
				i++
				out.WriteByte(in[i])
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
			out.WriteByte(c)
		case '{', '[':
			if i+1 < len(in) && (in[i+1] == '}' || in[i+1] == ']') {
				out.WriteByte(c)
				out.WriteByte(' ')
				out.WriteByte(in[i+1])
				i++
				continue
			}
			out.WriteByte(c)
			depth++
			nl()
		case '}', ']':
			depth--
			nl()
			out.WriteByte(c)
		case ',':
			out.WriteByte(c)
			nl()
		case ':':
			out.WriteString(" : ")
		default:
			out.WriteByte(c)
		}
	}
	return out.Bytes()
}
