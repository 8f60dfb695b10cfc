package onelogin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Route is the path OneLogin serves token revocation on.
const Route = "/auth/oauth2/revoke"

// Options configure the handler; Auth authenticates OAuth clients; without
// one every request is refused with 401 Authentication Failure.
type Options = publisher.DialectOptions

// Handler serves POST /auth/oauth2/revoke; mount it for every method.
type Handler struct {
	core publisher.Revoker
	opts Options
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler.
func New(core publisher.Revoker, opts Options) *Handler {
	return &Handler{core: core, opts: opts.WithDefaults()}
}

// ServeHTTP implements http.Handler. The checks run in this order: method,
// Authorization (present and in a known form, then valid), Content-Type,
// body; the first that fails is the answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		send(w, http.StatusNotFound, typeNotFound, msgNoRoute)
		return
	}
	p, err := h.authenticate(r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if t, _, ok := publisher.MediaType(r.Header.Get("Content-Type")); !ok || t != mediaJSON {
		send(w, http.StatusBadRequest, typeBadRequest, msgContentType)
		return
	}
	body, err := publisher.ReadBody(r, h.opts.MaxBody)
	if errors.Is(err, publisher.ErrBodyTooLarge) {
		send(w, http.StatusRequestEntityTooLarge, typeTooLarge,
			fmt.Sprintf("Request body is larger than %d bytes", h.opts.MaxBody))
		return
	}
	if err != nil {
		send(w, http.StatusBadRequest, typeBadRequest, msgUnreadableBody)
		return
	}
	tok, err := accessToken(body)
	switch {
	case errors.Is(err, errTokenTooLong):
		send(w, http.StatusBadRequest, typeBadRequest, msgTokenTooLong)
		return
	case err != nil:
		send(w, http.StatusBadRequest, typeBadRequest, msgTokenMissing)
		return
	}
	ref := publisher.RefFromToken(tok)
	// The access token and its refresh token (once the registry knows the
	// pair), and only a token issued to the calling client.
	req := publisher.Request{Op: auth.OpOneLogin, Principal: p, Token: &ref, TokenType: events.AccessToken, Client: p.ID,
		Chaining: publisher.ChainRelatedTokens, OwnedByClient: true}
	res, err := h.core.Revoke(r.Context(), req)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	if res.NotFound { // authoritative registry: an unknown token is not this client's
		send(w, http.StatusUnauthorized, typeUnauthorized, msgAuthFailure)
		return
	}
	send(w, http.StatusOK, typeSuccess, msgSuccess)
}

// errAuthMissing: no Authorization in either accepted form (OneLogin answers 400).
var errAuthMissing = fmt.Errorf("%w: the authorization information is missing", auth.ErrBadCredentials)

// authenticate reads either Authorization form and authenticates the client.
func (h *Handler) authenticate(r *http.Request) (*auth.Principal, error) {
	hdr := r.Header.Get("Authorization")
	id, secret, ok := auth.ParseOneLogin(hdr)
	if !ok {
		id, secret, ok = auth.ParseBasic(hdr)
	}
	if !ok {
		return nil, errAuthMissing
	}
	return h.opts.Auth.Authenticate(auth.KindClient, publisher.ClientIP(r), auth.Creds{ID: id, Secret: secret})
}

// fail renders any failure (authentication's or the core's) in OneLogin's envelope.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	f := publisher.Classify(err)
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch f.Kind {
	case publisher.KindUnauthenticated:
		if errors.Is(err, errAuthMissing) {
			send(w, http.StatusBadRequest, typeBadRequest, msgAuthMissing)
			return
		}
		// The same answer for an unknown id and a wrong secret.
		send(w, http.StatusUnauthorized, typeUnauthorized, msgAuthFailure)
	case publisher.KindRateLimited:
		send(w, http.StatusTooManyRequests, typeTooMany,
			fmt.Sprintf("%s; retry after %d seconds", upperFirst(f.RateLimitMessage()), f.RetryAfter))
	case publisher.KindForbidden:
		send(w, http.StatusForbidden, typeForbidden, forbiddenMessage(p, f.Forbidden))
	case publisher.KindWrongClient:
		// OneLogin: the token must have been generated with these credentials.
		send(w, http.StatusUnauthorized, typeUnauthorized, msgAuthFailure)
	case publisher.KindOverBudget:
		send(w, http.StatusTooManyRequests, typeTooMany, f.Budget.Error())
	case publisher.KindInvalid:
		send(w, http.StatusBadRequest, typeBadRequest, err.Error())
	default:
		h.opts.Log.Error().Err(err).Str("op", string(auth.OpOneLogin)).Str("client", p.IDOrEmpty()).
			Str("peer", publisher.ClientIP(r)).Msg("revocation failed")
		send(w, http.StatusServiceUnavailable, typeUnavailable, msgUnavailable)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// forbiddenMessage says why the authenticated client was refused.
func forbiddenMessage(p *auth.Principal, fe *publisher.ForbiddenError) string {
	id := ""
	if p != nil {
		id = p.ID
	}
	client := "Client [" + truncate(id, maxEchoedNameLength) + "]"
	switch {
	case fe.Op != "":
		return client + " may not use this endpoint"
	case fe.AllRealms || fe.Realm == "":
		return client + " may not revoke tokens of an unknown realm"
	default:
		return client + " may not revoke tokens of realm [" + truncate(fe.Realm, maxEchoedNameLength) + "]"
	}
}
