package ssf

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/revocast/revocast/internal/httpx"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// PushRoute is where transmitters push SETs (RFC 8935).
const PushRoute = "/ssf/events"

// errorBody is RFC 8935's error response.
type errorBody struct {
	Err         string `json:"err,omitempty"`
	Description string `json:"description"`
}

// PushHandler serves POST /ssf/events: authentication by the transmitter's
// bearer token (401), then the SET (400 with RFC 8935's err codes), then 202
// once every revocation it implies is stored in JetStream (or was, for a
// redelivery); 503 with Retry-After when it could not be stored.
func (r *Receiver) PushHandler() http.Handler {
	return http.HandlerFunc(r.servePush)
}

func (r *Receiver) servePush(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, errorBody{Err: string(CodeInvalidRequest), Description: "use POST"})
		return
	}
	token, ok := bearer(req.Header.Get("Authorization"))
	if !ok || r.pushAuth == nil {
		unauthorized(w, "a transmitter authenticates with Authorization: Bearer <its push token>")
		return
	}
	body, err := publisher.ReadBody(req, MaxTokenLen)
	if err != nil {
		if errors.Is(err, publisher.ErrBodyTooLarge) {
			httpx.WriteJSON(w, http.StatusRequestEntityTooLarge, errorBody{Err: string(CodeInvalidRequest), Description: err.Error()})
			return
		}
		httpx.WriteJSON(w, http.StatusBadRequest, errorBody{Err: string(CodeInvalidRequest), Description: "the body could not be read"})
		return
	}
	p, err := r.pushAuth.Authenticate(auth.KindTransmitter, publisher.ClientIP(req), r.pushCandidates(string(body), token)...)
	if err != nil {
		f := publisher.Classify(err)
		if f.Kind == publisher.KindRateLimited {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			httpx.WriteJSON(w, http.StatusTooManyRequests, errorBody{Description: f.RateLimitMessage()})
			return
		}
		unauthorized(w, "the bearer token is not a configured transmitter's push token")
		return
	}
	t := r.byName[p.ID]
	if ct, _, ok := publisher.MediaType(req.Header.Get("Content-Type")); !ok || ct != "application/secevent+jwt" {
		httpx.WriteJSON(w, http.StatusBadRequest, errorBody{Err: string(CodeInvalidRequest),
			Description: "Content-Type must be application/secevent+jwt (RFC 8935)"})
		return
	}
	_, err = r.apply(req.Context(), t, strings.TrimSpace(string(body)), "push")
	writeOutcome(w, err)
}

// writeOutcome renders apply's answer for a push.
func writeOutcome(w http.ResponseWriter, err error) {
	var e *Error
	switch {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case errors.As(err, &e):
		httpx.WriteJSON(w, http.StatusBadRequest, errorBody{Err: string(e.Code), Description: e.Description})
	case errors.Is(err, ErrOverBudget):
		w.Header().Set("Retry-After", "60")
		httpx.WriteJSON(w, http.StatusTooManyRequests, errorBody{Description: "storing this would exceed a realm's quota or a sidecar's capacity; nothing was stored"})
	default:
		w.Header().Set("Retry-After", strconv.Itoa(publisher.RetryAfterOutage))
		httpx.WriteJSON(w, http.StatusServiceUnavailable, errorBody{Description: "the revocations could not be stored; nothing was acknowledged; retry"})
	}
}

// pushCandidates are the push transmitters the bearer token may belong
// to: the one whose issuer the SET names (read without verifying, only to
// try it first) and then the others, so a valid token with a SET of the
// wrong issuer is still authenticated, and refused as invalid_issuer.
func (r *Receiver) pushCandidates(body, token string) []auth.Creds {
	hint := peekIssuer(strings.TrimSpace(body))
	var out []auth.Creds
	for _, t := range r.transmitters {
		if t.cfg.Push == nil {
			continue
		}
		c := auth.Creds{ID: t.cfg.Name, Secret: token}
		if t.cfg.Issuer == hint {
			out = append([]auth.Creds{c}, out...)
		} else {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = []auth.Creds{{ID: "", Secret: token}}
	}
	return out
}

// peekIssuer reads a compact JWS's iss without verifying it; "" when it
// cannot.
func peekIssuer(tok string) string { return peek(tok).Iss }

// peeked are claims read without verifying: only to choose how to verify.
type peeked struct {
	Iss string `json:"iss"`
	Jti string `json:"jti"`
}

func peek(tok string) peeked {
	var c peeked
	parts := strings.Split(tok, ".")
	if len(tok) > MaxTokenLen || len(parts) != 3 {
		return c
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c
	}
	_ = json.Unmarshal(b, &c)
	return c
}

// bearer returns the token of "Bearer <token>" (scheme case-insensitive).
func bearer(h string) (string, bool) {
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	t := strings.TrimSpace(h[len(p):])
	return t, t != "" && len(t) <= auth.MaxSecretLen
}

func unauthorized(w http.ResponseWriter, why string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="revocast"`)
	httpx.WriteJSON(w, http.StatusUnauthorized, errorBody{Err: string(CodeAuthenticationFailed), Description: why})
}
