package oam

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Route is the path OAM serves token revocation on.
const Route = "/oauth2/rest/token/revoke"

// Options configure the handler; Auth authenticates OAuth clients (Basic
// client_id:client_secret); without one every request is refused with 401.
type Options = publisher.DialectOptions

// Handler serves POST /oauth2/rest/token/revoke.
type Handler struct {
	core publisher.Revoker
	opts Options
}

// New returns the handler.
func New(core publisher.Revoker, opts Options) *Handler {
	return &Handler{core: core, opts: opts.WithDefaults()}
}

// The challenge sent with a 401.
const challenge = `Basic realm="oauth2"`

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		sendError(w, http.StatusMethodNotAllowed, codeInvalidRequest,
			fmt.Sprintf("method %s is not allowed: use POST", truncate(r.Method, 32)))
		return
	}
	p, err := h.authenticate(r)
	if err != nil {
		h.fail(w, nil, "", err)
		return
	}
	req, err := parseRequest(r, h.opts.MaxBody)
	if err != nil {
		var ie *invalidError
		if errors.As(err, &ie) {
			sendError(w, ie.status, codeInvalidRequest, ie.desc)
			return
		}
		// parseRequest only returns *invalidError; be safe anyway.
		sendError(w, http.StatusBadRequest, codeInvalidRequest, "the request could not be read")
		return
	}
	req.Op, req.Principal, req.Client = auth.OpOAM, p, p.ID
	res, err := h.core.Revoke(r.Context(), req)
	if err == nil && res.NotFound {
		sendError(w, http.StatusBadRequest, codeInvalidRequest, "the token is not known to the token registry")
		return
	}
	if err == nil && res.Invalidated+res.PreviouslyInvalidated == 0 {
		// The one counted token was not stored (only an alias was): the
		// answer must not claim success.
		err = fmt.Errorf("%w: the token's revocation was not stored (%d failures)", publisher.ErrUnavailable, len(res.Details))
	}
	if err != nil {
		h.fail(w, p, req.Realm, err)
		return
	}
	send(w, http.StatusOK, success{Status: "success"})
}

// authenticate checks the client's Basic credentials.
func (h *Handler) authenticate(r *http.Request) (*auth.Principal, error) {
	id, secret, ok := auth.ParseBasic(r.Header.Get("Authorization"))
	if !ok {
		return nil, auth.ErrBadCredentials
	}
	// RFC 6749 section 2.3.1 has clients form-urlencode the id and secret
	// before base64; many do not. Both readings are tried, a failure counts once.
	return h.opts.Auth.Authenticate(auth.KindClient, publisher.ClientIP(r), auth.BasicCandidates(id, secret)...)
}

// fail renders any failure (authentication's or the core's). The token is
// not logged: the core's errors name tokens by their key only.
func (h *Handler) fail(w http.ResponseWriter, p *auth.Principal, realm string, err error) {
	f := publisher.Classify(err)
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch f.Kind {
	case publisher.KindUnauthenticated:
		w.Header().Set("WWW-Authenticate", challenge)
		sendError(w, http.StatusUnauthorized, codeInvalidClient, "Client authentication failed")
	case publisher.KindRateLimited:
		sendError(w, http.StatusTooManyRequests, codeTooManyRequests,
			fmt.Sprintf("%s; retry after %d seconds", f.RateLimitMessage(), f.RetryAfter))
	case publisher.KindForbidden:
		sendError(w, http.StatusForbidden, codeAccessDenied, forbiddenDescription(f.Forbidden, p))
	case publisher.KindWrongClient:
		sendError(w, http.StatusForbidden, codeAccessDenied, "the token was issued to another client; it was not revoked")
	case publisher.KindOverBudget:
		sendError(w, http.StatusTooManyRequests, codeQuotaExceeded, f.Budget.Error())
	case publisher.KindInvalid:
		h.opts.Log.Warn().Err(err).Str("client", p.IDOrEmpty()).Str("identity_domain", realm).Msg("OAM revocation refused by the core")
		sendError(w, http.StatusBadRequest, codeInvalidRequest, err.Error())
	default:
		h.opts.Log.Error().Err(err).Str("client", p.IDOrEmpty()).Str("identity_domain", realm).Msg("OAM revocation failed")
		sendError(w, http.StatusServiceUnavailable, codeUnavailable,
			"the revocation could not be stored; nothing was revoked; retry")
	}
}

func forbiddenDescription(fe *publisher.ForbiddenError, p *auth.Principal) string {
	var id string
	if p != nil {
		id = p.ID
	}
	if fe.Principal != nil {
		id = fe.Principal.ID
	}
	switch {
	case fe.Op != "":
		return fmt.Sprintf("client [%s] may not use the OAM revocation endpoint", id)
	case fe.AllRealms:
		return fmt.Sprintf("client [%s] may not revoke a token whose identity domain is unknown", id)
	default:
		return fmt.Sprintf("client [%s] may not revoke tokens in identity domain [%s]", id, fe.Realm)
	}
}

// truncate cuts s to at most n bytes, without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
