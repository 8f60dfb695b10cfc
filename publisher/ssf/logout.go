package ssf

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/httpx"
	"github.com/revocast/revocast/publisher"
)

// LogoutRoute is where identity providers post logout tokens (OpenID
// Connect Back-Channel Logout 1.0).
const LogoutRoute = "/oidc/backchannel-logout"

// LogoutToken is a verified logout token's claims.
type LogoutToken struct {
	Issuer   string
	Audience []string
	IssuedAt time.Time
	Expiry   time.Time // zero: none
	JTI      string
	Subject  string // "" when absent
	Session  string // sid, "" when absent
}

type logoutClaims struct {
	Iss    *string                    `json:"iss"`
	Aud    json.RawMessage            `json:"aud"`
	Iat    json.RawMessage            `json:"iat"`
	Exp    json.RawMessage            `json:"exp"`
	Jti    *string                    `json:"jti"`
	Sub    *string                    `json:"sub"`
	Sid    *string                    `json:"sid"`
	Nonce  json.RawMessage            `json:"nonce"`
	Events map[string]json.RawMessage `json:"events"`
}

// ParseLogoutToken reads a logout token's verified payload as Back-Channel
// Logout 1.0 section 2.4 defines it: iss, aud, iat, jti, an events member
// naming the back-channel logout event with a JSON object, sid and/or sub,
// and no nonce.
func ParseLogoutToken(payload []byte) (*LogoutToken, *Error) {
	var c logoutClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuse(CodeInvalidRequest, "the logout token's claims are not a JSON object: %s", err.Error())
	}
	str := func(p *string, name string, required bool) (string, *Error) {
		switch {
		case p == nil && !required:
			return "", nil
		case p == nil || *p == "" || len(*p) > events.MaxNameLen:
			return "", refuse(CodeInvalidRequest, "%s must be a string of 1 to %d bytes", name, events.MaxNameLen)
		}
		return *p, nil
	}
	lt := &LogoutToken{}
	var e *Error
	if lt.Issuer, e = str(c.Iss, "iss", true); e != nil {
		return nil, e
	}
	if lt.JTI, e = str(c.Jti, "jti", true); e != nil {
		return nil, e
	}
	if lt.Subject, e = str(c.Sub, "sub", false); e != nil {
		return nil, e
	}
	if lt.Session, e = str(c.Sid, "sid", false); e != nil {
		return nil, e
	}
	var ok bool
	if lt.IssuedAt, ok = numericDate(c.Iat); !ok {
		return nil, refuse(CodeInvalidRequest, "iat must be a NumericDate")
	}
	if len(c.Exp) > 0 {
		if lt.Expiry, ok = numericDate(c.Exp); !ok {
			return nil, refuse(CodeInvalidRequest, "exp must be a NumericDate")
		}
	}
	aud, err := audiences(c.Aud)
	if err != nil || len(aud) == 0 {
		return nil, refuse(CodeInvalidRequest, "aud must name the client: a string or an array of strings")
	}
	lt.Audience = aud
	if ev, ok := c.Events[BackchannelLogoutEvent]; !ok || !isObject(ev) {
		return nil, refuse(CodeInvalidRequest, "events must hold %s with a JSON object", BackchannelLogoutEvent)
	}
	if len(c.Nonce) > 0 {
		return nil, refuse(CodeInvalidRequest, "a logout token must not carry a nonce (it would be an ID token)")
	}
	if lt.Session == "" && lt.Subject == "" {
		return nil, refuse(CodeInvalidRequest, "a logout token names sid, sub, or both")
	}
	return lt, nil
}

// LogoutHandler serves POST /oidc/backchannel-logout: form logout_token=;
// 200 once the session's (sid) or the user's (sub alone) revocation is
// stored, 400 {"error":"invalid_request","error_description":...} for a
// token that does not validate, 503 when it could not be stored.
func (r *Receiver) LogoutHandler() http.Handler { return http.HandlerFunc(r.serveLogout) }

type logoutError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (r *Receiver) serveLogout(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, logoutError{"invalid_request", "use POST"})
		return
	}
	bad := func(why string) { httpx.WriteJSON(w, http.StatusBadRequest, logoutError{"invalid_request", why}) }
	if ct, _, ok := publisher.MediaType(req.Header.Get("Content-Type")); !ok || ct != "application/x-www-form-urlencoded" {
		bad("Content-Type must be application/x-www-form-urlencoded")
		return
	}
	body, err := publisher.ReadBody(req, MaxTokenLen+1024)
	if err != nil {
		bad("the body could not be read: " + err.Error())
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || len(form["logout_token"]) != 1 {
		bad("the body must be a form with exactly one logout_token")
		return
	}
	tok := strings.TrimSpace(form.Get("logout_token"))
	iss := peekIssuer(tok)
	i := slices.IndexFunc(r.transmitters, func(t *transmitter) bool { return t.cfg.BackchannelLogout != nil && t.cfg.Issuer == iss })
	if i < 0 {
		bad("the logout token's iss is not an issuer whose logout tokens revocast accepts")
		return
	}
	t := r.transmitters[i]
	err = r.applyLogout(req.Context(), t, tok)
	var e *Error
	switch {
	case err == nil:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	case errors.As(err, &e):
		bad(e.Description)
	case errors.Is(err, ErrOverBudget):
		w.Header().Set("Retry-After", "60")
		httpx.WriteJSON(w, http.StatusTooManyRequests, logoutError{"temporarily_unavailable", "storing this would exceed a realm's quota or a sidecar's capacity"})
	default:
		w.Header().Set("Retry-After", "1")
		httpx.WriteJSON(w, http.StatusServiceUnavailable, logoutError{"temporarily_unavailable", "the logout could not be stored; retry"})
	}
}

// applyLogout validates a logout token from t and stores the session's or
// the user's revocation once.
func (r *Receiver) applyLogout(ctx context.Context, t *transmitter, tok string) error {
	start := r.now()
	lt, req, err := r.verifyLogout(ctx, t, tok)
	if err == nil {
		err = r.store(ctx, t, []publisher.Request{req}, seenKey("logout", lt.Issuer, lt.JTI), lt.IssuedAt, lt.Issuer, lt.JTI)
	}
	var s *SET
	if lt != nil {
		s = &SET{JTI: lt.JTI, Events: []Event{{Type: BackchannelLogoutEvent}}}
	}
	r.record(t, "logout", s, err, start)
	if errors.Is(err, errReplayed) {
		return nil
	}
	return err
}

func (r *Receiver) verifyLogout(ctx context.Context, t *transmitter, tok string) (*LogoutToken, publisher.Request, error) {
	var req publisher.Request
	h, e := peekHeader(tok)
	if e != nil {
		return nil, req, e
	}
	if h.Typ != "" && !typIs(h.Typ, "jwt") && !typIs(h.Typ, "logout+jwt") {
		return nil, req, refuse(CodeInvalidRequest, "typ must be logout+jwt, JWT or absent, not %s", quote(h.Typ))
	}
	payload, _, e := verifyJWS(ctx, t.keys, t.cfg.Algorithms, tok)
	if e != nil {
		return nil, req, e
	}
	lt, e := ParseLogoutToken(payload)
	if e != nil {
		return nil, req, e
	}
	switch {
	case lt.Issuer != t.cfg.Issuer:
		return lt, req, refuse(CodeInvalidIssuer, "iss %s is not the transmitter's issuer", quote(lt.Issuer))
	case !slices.ContainsFunc(lt.Audience, func(a string) bool { return slices.Contains(t.cfg.BackchannelLogout.Audiences, a) }):
		return lt, req, refuse(CodeInvalidAudience, "aud names none of the clients whose logout tokens revocast accepts")
	}
	if e := checkTimes(lt.IssuedAt, lt.Expiry, r.now(), r.window); e != nil {
		return lt, req, e
	}
	realm := t.defaultRealm
	if !t.allows(realm) {
		return lt, req, refuse(CodeAccessDenied, "realm %s is not one this transmitter may affect", quote(realm))
	}
	if lt.Session != "" {
		return lt, publisher.Request{Realm: realm, Session: lt.Session, IssuedBefore: lt.IssuedAt}, nil
	}
	user, um := r.userOf(&subjectID{Format: FormatIssSub, Iss: lt.Issuer, Sub: lt.Subject}, realm)
	if um != nil {
		r.m.unmapped.WithLabelValues(t.cfg.Name, um.what).Inc()
		return lt, req, um.err
	}
	return lt, publisher.Request{Realm: realm, User: user, IssuedBefore: lt.IssuedAt}, nil
}
