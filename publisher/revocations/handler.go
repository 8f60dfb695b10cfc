package revocations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/httpx"
	"github.com/revocast/revocast/internal/jsonkeys"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Route is the path the admin route is served on.
const Route = "/v1/revocations"

// Options configure the handler; Auth authenticates OAuth clients (Basic).
type Options = publisher.DialectOptions

// Handler serves POST /v1/revocations.
type Handler struct {
	core publisher.Revoker
	opts Options
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler.
func New(core publisher.Revoker, opts Options) *Handler {
	return &Handler{core: core, opts: opts.WithDefaults()}
}

// Body is one revocation: exactly one of Token, TokenSHA256 and JWTID.
type Body struct {
	Token       *string    `json:"token"`
	TokenSHA256 *string    `json:"token_sha256"`
	JWTID       *jwtIDBody `json:"jwt_id"`
	// Realm is the realm the token belongs to, when revocast cannot tell
	// (an opaque token the registry does not know).
	Realm string `json:"realm"`
	// ExpiresAt is when the token expires (RFC 3339), if known.
	ExpiresAt string `json:"expires_at"`
}

type jwtIDBody struct {
	Issuer string `json:"iss"`
	ID     string `json:"jti"`
}

// Answer is the 200 body.
type Answer struct {
	Invalidated           int            `json:"invalidated"`
	PreviouslyInvalidated int            `json:"previously_invalidated"`
	Errors                []AnswerDetail `json:"errors,omitempty"`
}

// AnswerDetail is one failure of a 200 answer.
type AnswerDetail struct {
	Kind       string `json:"kind"`
	Subscriber string `json:"subscriber,omitempty"`
	Error      string `json:"error"`
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, errorBody{"invalid_request", "use POST"})
		return
	}
	p, err := h.authenticate(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if t, _, ok := publisher.MediaType(r.Header.Get("Content-Type")); !ok || t != "application/json" {
		httpx.WriteJSON(w, http.StatusBadRequest, errorBody{"invalid_request", "Content-Type must be application/json"})
		return
	}
	raw, err := publisher.ReadBody(r, h.opts.MaxBody)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, publisher.ErrBodyTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		httpx.WriteJSON(w, code, errorBody{"invalid_request", "the body could not be read: " + err.Error()})
		return
	}
	req, err := Parse(raw)
	if err != nil {
		httpx.WriteJSON(w, http.StatusBadRequest, errorBody{"invalid_request", err.Error()})
		return
	}
	req.Op, req.Principal, req.Client = auth.OpRevocations, p, p.ID
	res, err := h.core.Revoke(r.Context(), req)
	if err != nil {
		h.fail(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, render(res))
}

func (h *Handler) authenticate(r *http.Request) (*auth.Principal, error) {
	id, secret, ok := auth.ParseBasic(r.Header.Get("Authorization"))
	if !ok {
		return nil, auth.ErrBadCredentials
	}
	return h.opts.Auth.Authenticate(auth.KindClient, publisher.ClientIP(r), auth.BasicCandidates(id, secret)...)
}

// fail renders a classified failure as an RFC 6749 error body.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	f := publisher.Classify(err)
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch f.Kind {
	case publisher.KindUnauthenticated:
		w.Header().Set("WWW-Authenticate", `Basic realm="revocast"`)
		httpx.WriteJSON(w, http.StatusUnauthorized, errorBody{"invalid_client", "client authentication failed"})
	case publisher.KindRateLimited:
		httpx.WriteJSON(w, http.StatusTooManyRequests, errorBody{"too_many_requests",
			fmt.Sprintf("too many failed authentication attempts; retry after %d seconds", f.RetryAfter)})
	case publisher.KindForbidden:
		httpx.WriteJSON(w, http.StatusForbidden, errorBody{"access_denied", f.Forbidden.Error()})
	case publisher.KindWrongClient:
		httpx.WriteJSON(w, http.StatusForbidden, errorBody{"access_denied", "the token was issued to another client; it was not revoked"})
	case publisher.KindOverBudget:
		httpx.WriteJSON(w, http.StatusTooManyRequests, errorBody{"quota_exceeded", f.Budget.Error()})
	case publisher.KindInvalid:
		httpx.WriteJSON(w, http.StatusBadRequest, errorBody{"invalid_request", err.Error()})
	default:
		h.opts.Log.Error().Err(err).Msg("revocation not stored")
		httpx.WriteJSON(w, http.StatusServiceUnavailable, errorBody{"temporarily_unavailable", "the revocation could not be stored; nothing was revoked; retry"})
	}
}

// Parse reads a body into a canonical request (without Op, Principal and
// Client). Its errors are the caller's to fix; none echoes a token.
func Parse(raw []byte) (publisher.Request, error) {
	var b Body
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return publisher.Request{}, fmt.Errorf("the body must be one JSON object with token, token_sha256 or jwt_id: %s",
			strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return publisher.Request{}, errors.New("the body must be one JSON object")
	}
	if err := jsonkeys.Duplicate(raw); err != nil {
		return publisher.Request{}, fmt.Errorf("the body names a field twice: %w", err)
	}
	n := 0
	for _, set := range []bool{b.Token != nil, b.TokenSHA256 != nil, b.JWTID != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return publisher.Request{}, errors.New("give exactly one of token, token_sha256 and jwt_id")
	}
	if len(b.Realm) > publisher.MaxNameLen {
		return publisher.Request{}, fmt.Errorf("realm is longer than %d bytes", publisher.MaxNameLen)
	}
	var exp time.Time
	if b.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, b.ExpiresAt)
		if err != nil {
			return publisher.Request{}, errors.New("expires_at is not an RFC 3339 time")
		}
		exp = t
	}
	req := publisher.Request{Realm: b.Realm}
	switch {
	case b.Token != nil:
		if *b.Token == "" || len(*b.Token) > publisher.MaxTokenLen {
			return req, fmt.Errorf("token must be 1 to %d bytes", publisher.MaxTokenLen)
		}
		ref := publisher.RefFromToken(*b.Token)
		if !ref.JWT {
			ref.ExpiresAt = exp
		}
		req.Token = &ref
	case b.TokenSHA256 != nil:
		sum, err := events.ParseSum(*b.TokenSHA256)
		if err != nil {
			return req, fmt.Errorf("token_sha256: %w", err)
		}
		ref := publisher.RefFromSum(sum)
		ref.ExpiresAt = exp
		req.Token = &ref
	default:
		j := b.JWTID
		if j.Issuer == "" || j.ID == "" || len(j.Issuer) > events.MaxNameLen || len(j.ID) > events.MaxNameLen {
			return req, fmt.Errorf("jwt_id needs iss and jti of 1 to %d bytes", events.MaxNameLen)
		}
		req.JWTID = &publisher.JWTID{Issuer: j.Issuer, ID: j.ID, ExpiresAt: exp}
	}
	return req, nil
}

func render(res publisher.Result) Answer {
	a := Answer{Invalidated: res.Invalidated, PreviouslyInvalidated: res.PreviouslyInvalidated}
	for _, d := range res.Details {
		msg := "unknown error"
		if d.Err != nil {
			msg = d.Err.Error()
		}
		switch d.Kind {
		case publisher.DetailTimeout:
			msg = fmt.Sprintf("did not confirm within %s; the revocation is stored and applies when it catches up", d.Timeout)
		case publisher.DetailConflict:
			msg = "two live instances announce this sidecar id: neither confirmation is trusted; the revocation is stored"
		}
		a.Errors = append(a.Errors, AnswerDetail{Kind: string(d.Kind), Subscriber: d.Subscriber, Error: msg})
	}
	return a
}
