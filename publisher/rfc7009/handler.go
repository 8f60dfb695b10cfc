package rfc7009

import (
	"fmt"
	"net/http"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Route is the path the revocation endpoint is served on.
const Route = "/oauth2/revoke"

// Options configure the handler; Auth authenticates OAuth clients; without
// one every request is refused with 401 invalid_client.
type Options = publisher.DialectOptions

// Handler serves POST /oauth2/revoke. Mount it for every method: it answers
// the others itself.
type Handler struct {
	core publisher.Revoker
	opts Options
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler.
func New(core publisher.Revoker, opts Options) *Handler {
	return &Handler{core: core, opts: opts.WithDefaults()}
}

// ServeHTTP implements http.Handler. The checks run in a fixed order:
// method, content type, body, client authentication, token, hint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		hdr.Set("Allow", http.MethodPost)
		e := invalidRequest("use POST")
		e.status = http.StatusMethodNotAllowed
		e.write(w)
		return
	}
	form, e := readForm(r, h.opts.MaxBody)
	if e != nil {
		e.write(w)
		return
	}
	p, e := h.authenticate(r, form)
	if e != nil {
		e.write(w)
		return
	}
	req, e := tokenRequest(form)
	if e != nil {
		e.write(w)
		return
	}
	req.Op, req.Principal, req.Client = auth.OpRFC7009, p, p.ID
	// A refresh token takes every access token of its grant with it, and a
	// client may only revoke its own tokens (RFC 7009 section 2.1). An
	// unknown token is answered 200 like a revoked one (section 2.2).
	req.Chaining, req.OwnedByClient = publisher.ChainGrant, true
	if _, err := h.core.Revoke(r.Context(), req); err != nil {
		h.failure(r, p, err, false).write(w)
		return
	}
	// Exactly 200 with no body: openid-client takes anything else (even 204)
	// for an error. An invalid or unknown token gets it too (RFC 7009
	// section 2.2); the core stores those revocations like any other.
	w.WriteHeader(http.StatusOK)
}

// failure maps any error (authentication's or the core's) to its RFC 6749
// answer; challenge adds WWW-Authenticate to a 401 (the client tried Basic,
// or sent no credentials).
func (h *Handler) failure(r *http.Request, p *auth.Principal, err error, challenge bool) *oauthError {
	f := publisher.Classify(err)
	switch f.Kind {
	case publisher.KindUnauthenticated:
		return unauthorized(challenge)
	case publisher.KindRateLimited:
		return &oauthError{status: http.StatusTooManyRequests, code: codeTooManyRequests, retryAfter: f.RetryAfter,
			desc: fmt.Sprintf("%s; retry after %d seconds", f.RateLimitMessage(), f.RetryAfter)}
	case publisher.KindForbidden:
		// RFC 6749 section 5.2 puts unauthorized_client on 400.
		return &oauthError{status: http.StatusBadRequest, code: codeUnauthorizedClient, desc: forbidden(f.Forbidden)}
	case publisher.KindWrongClient:
		// RFC 7009 section 2.1: the token was not issued to this client, so the
		// request is refused and the token stays valid.
		return &oauthError{status: http.StatusBadRequest, code: codeUnauthorizedClient,
			desc: "the token was not issued to client " + p.IDOrEmpty() + "; it was not revoked"}
	case publisher.KindOverBudget:
		return &oauthError{status: http.StatusTooManyRequests, code: codeQuotaExceeded, desc: f.Budget.Error()}
	case publisher.KindInvalid:
		return invalidRequest("%s", err.Error())
	}
	// The error comes from the core, which only ever saw the token's key.
	h.opts.Log.Error().Err(err).Str("op", string(auth.OpRFC7009)).Str("client", p.IDOrEmpty()).
		Str("peer", publisher.ClientIP(r)).Msg("token revocation not stored")
	return &oauthError{status: http.StatusServiceUnavailable, code: codeUnavailable, retryAfter: f.RetryAfter,
		desc: "the revocation could not be stored; retry"}
}

func forbidden(fe *publisher.ForbiddenError) string {
	who := "client"
	if fe.Principal != nil {
		who = "client " + fe.Principal.ID
	}
	switch {
	case fe.Op != "":
		return who + " may not use the RFC 7009 revocation endpoint"
	case fe.AllRealms:
		return who + " may not revoke this token: its realm is unknown, and only a client allowed in every realm may"
	default:
		return fmt.Sprintf("%s may not revoke tokens of realm [%s]", who, fe.Realm)
	}
}
