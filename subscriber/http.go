package subscriber

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/httpx"
	"github.com/revocast/revocast/internal/jwtclaims"
)

// MaxCheckBody bounds a POST /v1/check body.
const MaxCheckBody = 64 << 10

// Handler returns the sidecar's HTTP API: GET and POST /v1/check, /healthz,
// /readyz, and /metrics from gatherer (nil: no /metrics).
func (s *Subscriber) Handler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/check", s.getCheck)
	// Envoy's ext_authz HTTP service sends path_prefix + the original path,
	// with the original method: any of those is a check of its bearer token.
	mux.HandleFunc("/v1/check/", s.getCheck)
	mux.HandleFunc("POST /v1/check", s.postCheck)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return httpx.RefuseTunnels(mux)
}

// BearerToken returns the access token of an "Authorization: Bearer
// <token>" or "Authorization: DPoP <token>" header (scheme
// case-insensitive), or "".
func BearerToken(r *http.Request) string { return bearer(r.Header.Get("Authorization")) }

// bearer returns the access token of an Authorization header value "Bearer
// <token>" or "DPoP <token>" (RFC 9449 section 7.1: a DPoP-bound access
// token travels under its own scheme, and a resource server that accepts
// DPoP would otherwise be handed a revoked one unchecked), scheme
// case-insensitive, or "". Any run of spaces and tabs may follow the
// scheme: resource servers that split on whitespace accept
// "Bearer\t<token>", so it must be checked, not passed on as no token.
func bearer(h string) string {
	for _, p := range [...]string{"bearer", "dpop"} {
		if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) && (h[len(p)] == ' ' || h[len(p)] == '\t') {
			return strings.TrimSpace(h[len(p):])
		}
	}
	return ""
}

// Precomputed header values: the check path sets them without formatting
// or allocating.
var (
	hdrInvalidToken   = []string{`Bearer error="invalid_token"`}
	hdrNoToken        = []string{`Bearer error="invalid_request", error_description="no bearer token"`}
	hdrTooLong        = []string{`Bearer error="invalid_request", error_description="token too long"`}
	hdrTwoHeaders     = []string{`Bearer error="invalid_request", error_description="more than one Authorization header"`}
	hdrTrue           = []string{"true"}
	hdrRetryAfter1    = []string{"1"}
	reasonHeaderCache sync.Map // reason → []string
)

func reasonHeader(reason string) []string {
	if v, ok := reasonHeaderCache.Load(reason); ok {
		return v.([]string)
	}
	v := []string{reason}
	reasonHeaderCache.Store(reason, v)
	return v
}

// writeDecision renders a decision for nginx auth_request / Envoy ext_authz:
// 204 allowed, 401 revoked, 503 unavailable.
func writeDecision(w http.ResponseWriter, d Decision) {
	h := w.Header()
	if d.Stale {
		h["X-Revocast-Stale"] = hdrTrue
	}
	switch d.Verdict {
	case Allowed:
		w.WriteHeader(http.StatusNoContent)
	case Revoked:
		h["Www-Authenticate"] = hdrInvalidToken
		h["X-Revocast-Reason"] = reasonHeader(d.Reason)
		w.WriteHeader(http.StatusUnauthorized)
	default:
		h["Retry-After"] = hdrRetryAfter1
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable", "reason": d.Reason})
	}
}

// ServeCheck answers GET /v1/check: the hot route, served without the
// mux, the access log or any other middleware (a log line per check would
// cost more than the check; checks are counted in metrics). It reads the
// Authorization header from the map directly and writes precomputed headers.
func (s *Subscriber) ServeCheck(w http.ResponseWriter, r *http.Request) {
	s.getCheck(w, r)
}

// getCheck answers for the request's bearer token (GET /v1/check, and any
// method on /v1/check/...).
func (s *Subscriber) getCheck(w http.ResponseWriter, r *http.Request) {
	auth := r.Header["Authorization"]
	var tok string
	switch {
	case len(auth) == 0:
	case len(auth) == 1 && !strings.Contains(auth[0], ","):
		tok = bearer(auth[0])
	default:
		// Two headers, or two merged into one by a proxy (Envoy joins
		// repeated headers with a comma, which no token holds): which one
		// would the resource server read? Not guessed: refused.
		w.Header()["Www-Authenticate"] = hdrTwoHeaders
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch {
	case tok == "":
		w.Header()["Www-Authenticate"] = hdrNoToken
		w.WriteHeader(http.StatusUnauthorized)
	case len(tok) > jwtclaims.MaxTokenLen:
		w.Header()["Www-Authenticate"] = hdrTooLong
		w.WriteHeader(http.StatusUnauthorized)
	default:
		writeDecision(w, s.Check(tok))
	}
}

type checkRequest struct {
	Token       *string     `json:"token"`
	TokenSHA256 *string     `json:"token_sha256"`
	Claims      *claimsJSON `json:"claims"`
}

type claimsJSON struct {
	Realm    string `json:"realm"`
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Azp      string `json:"azp"`
	ClientID string `json:"client_id"`
	JTI      string `json:"jti"`
	Sid      string `json:"sid"`
	// User is the user as the realm's user claim names it (user_claim);
	// without it, sub.
	User string   `json:"user"`
	Iat  *float64 `json:"iat"`
}

type checkResponse struct {
	Revoked bool    `json:"revoked"`
	Reason  *string `json:"reason"`
	Stale   bool    `json:"stale,omitempty"`
}

func badRequest(w http.ResponseWriter, reason string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "reason": reason})
}

func (s *Subscriber) postCheck(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxCheckBody+1))
	if err != nil {
		badRequest(w, "the body could not be read")
		return
	}
	if len(body) > MaxCheckBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "invalid_request", "reason": "body larger than 64 KiB"})
		return
	}
	var req checkRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		badRequest(w, "body must be a JSON object with token or token_sha256 (and optional claims): "+err.Error())
		return
	}
	// One object, nothing after it: a second one would be ignored.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		badRequest(w, "body must be one JSON object, with nothing after it")
		return
	}
	var d Decision
	switch {
	case (req.Token == nil) == (req.TokenSHA256 == nil):
		badRequest(w, "give exactly one of token and token_sha256")
		return
	case req.Token != nil:
		if *req.Token == "" || len(*req.Token) > jwtclaims.MaxTokenLen {
			badRequest(w, "token must be 1 to 16384 bytes")
			return
		}
		if req.Claims != nil {
			d = s.CheckSum(events.TokenKey(*req.Token), req.Claims.toClaims())
			if d.Verdict == Allowed {
				d = s.Check(*req.Token) // the JWT's own claims too
			}
		} else {
			d = s.Check(*req.Token)
		}
	default:
		sum, err := events.ParseSum(*req.TokenSHA256)
		if err != nil {
			badRequest(w, "token_sha256: "+err.Error())
			return
		}
		var c *Claims
		if req.Claims != nil {
			c = req.Claims.toClaims()
		}
		d = s.CheckSum(sum, c)
	}
	if d.Verdict == Unavailable {
		writeDecision(w, d)
		return
	}
	resp := checkResponse{Revoked: d.Verdict == Revoked, Stale: d.Stale}
	if resp.Revoked {
		resp.Reason = &d.Reason
	}
	writeJSON(w, http.StatusOK, resp)
}

func (c *claimsJSON) toClaims() *Claims {
	out := &Claims{Realm: c.Realm, Issuer: c.Issuer, Subject: c.Subject, Client: c.Azp, JTI: c.JTI, Session: c.Sid}
	if c.User != "" {
		out.Subject = c.User
	}
	if out.Client == "" {
		out.Client = c.ClientID
	}
	if c.Iat != nil && *c.Iat >= 0 && *c.Iat < 1e11 {
		out.IssuedAt = time.Unix(int64(*c.Iat), 0)
	}
	return out
}

func (s *Subscriber) healthz(w http.ResponseWriter, _ *http.Request) {
	st := s.Status()
	code := http.StatusOK
	if !st.Healthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}

// readyz is 503 until the replay is complete; when the cache's capacity is
// exhausted (whatever the policy: it needs an operator); and, under the deny
// policy, while stale or unhealthy.
func (s *Subscriber) readyz(w http.ResponseWriter, _ *http.Request) {
	st := s.Status()
	code := http.StatusOK
	if !st.Ready || s.cache.Health() != nil || s.lost.Load() > 0 || (s.cfg.StalePolicy == PolicyDeny && (st.Stale || !st.Healthy)) {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Checker is what Middleware needs: *Subscriber implements it.
type Checker interface {
	Check(token string) Decision
}

var _ Checker = (*Subscriber)(nil)

// Middleware denies requests whose bearer token is revoked (401 with
// WWW-Authenticate: Bearer error="invalid_token") or that cannot be vouched
// for (503), and requests with more than one Authorization header (401
// error="invalid_request": next might read another one than the one
// checked), and passes every other request, including those without a
// bearer token, to next: authenticating them is next's job.
func Middleware(c Checker, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header["Authorization"]; len(a) > 1 || (len(a) == 1 && strings.Contains(a[0], ",")) {
			w.Header()["Www-Authenticate"] = hdrTwoHeaders
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tok := BearerToken(r)
		if tok == "" {
			next.ServeHTTP(w, r)
			return
		}
		d := c.Check(tok)
		if d.Verdict == Allowed {
			next.ServeHTTP(w, r)
			return
		}
		writeDecision(w, d)
	})
}
