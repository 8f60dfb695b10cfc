package elasticsearch

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Route is the path Elasticsearch serves token invalidation on.
const Route = "/_security/oauth2/token"

// Options configure the handler; Auth authenticates Elasticsearch users
// (Basic) and API keys (ApiKey).
type Options = publisher.DialectOptions

// Handler serves DELETE /_security/oauth2/token.
type Handler struct {
	core publisher.Revoker
	opts Options
}

// New returns the handler.
func New(core publisher.Revoker, opts Options) *Handler {
	return &Handler{core: core, opts: opts.WithDefaults()}
}

// Query parameters Elasticsearch accepts on every route that matter here;
// any other is refused as Elasticsearch refuses it.
// (filter_path is refused rather than ignored: silently returning unfiltered
// output would surprise a client that asked for it.)
var knownParams = map[string]bool{"pretty": true, "human": true, "error_trace": true}

func flag(q map[string][]string, name string) bool {
	v, ok := q[name]
	return ok && (len(v) == 0 || v[0] == "" || v[0] == "true")
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rp := &reply{w: w, pretty: flag(q, "pretty"), errorTrace: flag(q, "error_trace"),
		vendor: isVendor(r.Header.Get("Accept")) || isVendor(r.Header.Get("Content-Type"))}

	switch r.Method {
	case http.MethodDelete:
	case http.MethodOptions:
		w.Header().Set("Allow", http.MethodDelete)
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", http.MethodDelete)
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		rp.send(http.StatusMethodNotAllowed, struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}{fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [DELETE]", Route, truncate(r.Method, 32)),
			http.StatusMethodNotAllowed})
		return
	}

	principal, user, err := h.authenticate(r)
	if err != nil {
		h.fail(rp, user, err)
		return
	}
	if msg := unknownParams(q); msg != "" {
		rp.sendError(http.StatusBadRequest, "illegal_argument_exception", msg, nil)
		return
	}
	raw, err := publisher.ReadBody(r, h.opts.MaxBody)
	if errors.Is(err, publisher.ErrBodyTooLarge) {
		rp.sendError(http.StatusRequestEntityTooLarge, "content_too_long_exception",
			fmt.Sprintf("request body is larger than the limit of [%d] bytes", h.opts.MaxBody), nil)
		return
	}
	if err != nil {
		rp.sendError(http.StatusBadRequest, "parse_exception", "request body could not be read", nil)
		return
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		rp.sendError(http.StatusBadRequest, "parse_exception", "request body is required", nil)
		return
	}
	if !usableContentType(r.Header.Get("Content-Type")) {
		rp.sendError(http.StatusBadRequest, "validation_exception", "unknown content type", nil)
		return
	}
	b, perr := parseBody(raw)
	if perr != nil {
		var c *ErrorCause
		if perr.cause != nil {
			c = &ErrorCause{Type: perr.cause.typ, Reason: perr.cause.reason}
		}
		rp.sendError(http.StatusBadRequest, perr.typ, perr.reason, c)
		return
	}
	req, problems := validate(b)
	if len(problems) > 0 {
		rp.sendError(http.StatusBadRequest, "action_request_validation_exception", validationReason(problems), nil)
		return
	}
	req.Op, req.Principal = auth.OpElasticsearch, principal
	res, err := h.core.Revoke(r.Context(), req)
	if err != nil {
		h.fail(rp, "", err)
		return
	}
	if res.NotFound {
		// Elasticsearch answers 404 with the zero counts when a single token
		// is not found (revocast: an authoritative registry does not know it).
		rp.send(http.StatusNotFound, render(res, rp.errorTrace))
		return
	}
	rp.send(http.StatusOK, render(res, rp.errorTrace))
}

func unknownParams(q map[string][]string) string {
	var bad []string
	for k := range q {
		if !knownParams[k] {
			bad = append(bad, "["+truncate(k, 64)+"]")
		}
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	if len(bad) == 1 {
		return fmt.Sprintf("request [%s] contains unrecognized parameter: %s", Route, bad[0])
	}
	return fmt.Sprintf("request [%s] contains unrecognized parameters: %s", Route, strings.Join(bad, ", "))
}

// isVendor reports whether a Content-Type or Accept value asks for
// Elasticsearch's vendor media type.
func isVendor(v string) bool {
	for _, part := range strings.Split(v, ",") {
		if t, _, ok := publisher.MediaType(part); ok && t == mediaVendor {
			return true
		}
	}
	return false
}

// usableContentType accepts JSON and the vendor type with compatible-with 7
// or 8 (with or without a space after ';', with or without a charset).
func usableContentType(v string) bool {
	t, p, ok := publisher.MediaType(v)
	if !ok {
		return false
	}
	switch t {
	case mediaJSON:
		return true
	case mediaVendor:
		cw, has := p["compatible-with"]
		return !has || cw == "7" || cw == "8"
	}
	return false
}

// validate applies InvalidateTokenRequest.validate() and revocast's bounds.
func validate(b *body) (publisher.Request, []string) {
	var tokenString *string
	tokenType := ""
	switch {
	case hasLength(b.token):
		tokenString, tokenType = b.token, events.AccessToken
	case hasLength(b.refreshToken):
		tokenString, tokenType = b.refreshToken, events.RefreshToken
	}
	var problems []string
	if hasText(b.realmName) || hasText(b.username) {
		if hasText(tokenString) {
			problems = append(problems, "token string must not be provided when realm name or username is specified")
		}
		if tokenType != "" {
			problems = append(problems, "token type must not be provided when realm name or username is specified")
		}
	} else if !hasLength(tokenString) {
		problems = append(problems, "token string must be provided when not specifying a realm name or a username")
	}
	if len(problems) > 0 {
		return publisher.Request{}, problems
	}
	var req publisher.Request
	if tokenString != nil {
		if len(*tokenString) > publisher.MaxTokenLen {
			return req, []string{fmt.Sprintf("token must not be longer than [%d] bytes", publisher.MaxTokenLen)}
		}
		ref := publisher.RefFromToken(*tokenString)
		req.Token, req.TokenType = &ref, tokenType
		return req, nil
	}
	if hasText(b.realmName) {
		req.Realm = *b.realmName
	}
	if hasText(b.username) {
		req.User = *b.username
	}
	for name, v := range map[string]string{"realm_name": req.Realm, "username": req.User} {
		if len(v) > publisher.MaxNameLen {
			problems = append(problems, fmt.Sprintf("%s must not be longer than [%d] bytes", name, publisher.MaxNameLen))
		}
	}
	sort.Strings(problems)
	return req, problems
}

// validationReason renders ActionRequestValidationException's message.
func validationReason(problems []string) string {
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, p := range problems {
		fmt.Fprintf(&b, "%d: %s;", i+1, p)
	}
	return b.String()
}

// render turns a core result into the Elasticsearch answer.
func render(res publisher.Result, errorTrace bool) Response {
	out := Response{InvalidatedTokens: res.Invalidated, PreviouslyInvalidatedTokens: res.PreviouslyInvalidated}
	for _, d := range res.Details {
		c := detailCause(d)
		if errorTrace {
			c.StackTrace = stackTrace(c.Type, c.Reason, c.CausedBy)
		}
		out.ErrorDetails = append(out.ErrorDetails, c)
	}
	out.ErrorCount = len(out.ErrorDetails)
	return out
}

func what(d publisher.Detail) string {
	if d.Rule != "" {
		return "rule [" + d.Rule + "]"
	}
	if !d.Token.IsZero() {
		return "token [" + d.Token.Short() + "]"
	}
	return "the request"
}

func detailCause(d publisher.Detail) ErrorCause {
	reason := func(err error) string {
		if err == nil {
			return "unknown error"
		}
		return err.Error()
	}
	switch d.Kind {
	case publisher.DetailPropagation:
		return ErrorCause{Type: "propagation_exception",
			Reason:   fmt.Sprintf("subscriber [%s] could not apply the revocation of %s", d.Subscriber, what(d)),
			CausedBy: &ErrorCause{Type: "cache_admission_exception", Reason: reason(d.Err)}}
	case publisher.DetailConflict:
		return ErrorCause{Type: "propagation_exception",
			Reason: fmt.Sprintf("subscriber [%s] is announced by two live instances, so neither confirmation is trusted; the revocation is stored; give each sidecar its own id",
				d.Subscriber)}
	case publisher.DetailUncounted:
		return ErrorCause{Type: "exception",
			Reason:   fmt.Sprintf("the revocation of %s is stored and enforced, but whether it was already revoked could not be recorded; it is not counted", what(d)),
			CausedBy: &ErrorCause{Type: "unavailable_shards_exception", Reason: reason(d.Err)}}
	case publisher.DetailTimeout:
		return ErrorCause{Type: "timeout_exception",
			Reason: fmt.Sprintf("subscriber [%s] did not confirm within [%s]; the revocation is stored and will apply when that subscriber catches up",
				d.Subscriber, d.Timeout)}
	default:
		return ErrorCause{Type: "exception",
			Reason:   fmt.Sprintf("failed to store the revocation of %s; it is not counted", what(d)),
			CausedBy: &ErrorCause{Type: "unavailable_shards_exception", Reason: reason(d.Err)}}
	}
}
