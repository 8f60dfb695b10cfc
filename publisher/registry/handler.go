package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Route is the registry feed.
const Route = "/v1/tokens"

// Subject is where issuers on the bus send the same records (NDJSON or one
// JSON object) as a request; the answer is the same JSON as on HTTP. Who
// may publish there is NATS's to decide (account permissions).
const Subject = "revocast.registry.tokens"

// DefaultMaxBody bounds a registration body: 100k records fit easily.
const DefaultMaxBody = 64 << 20

// Options configure the feed.
type Options struct {
	Auth             publisher.Authenticator
	MaxBody          int64         // DefaultMaxBody when zero
	MaxTokenLifetime time.Duration // expiries further away are refused
	Log              zerolog.Logger
	// Counted, when set, receives each request's registered and refused counts.
	Counted func(registered, refused int)
}

// Handler serves POST /v1/tokens.
type Handler struct {
	reg  Registrar
	opts Options
}

// NewHandler returns the feed's handler.
func NewHandler(reg Registrar, opts Options) *Handler {
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxTokenLifetime == 0 {
		opts.MaxTokenLifetime = publisher.DefaultMaxTokenLifetime
	}
	if opts.Auth == nil { // fail closed, like every format
		opts.Auth = publisher.DialectOptions{Log: opts.Log}.WithDefaults().Auth
	}
	return &Handler{reg: reg, opts: opts}
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, oauthError{"invalid_request", "use POST"})
		return
	}
	p, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if !p.Can(auth.OpRegister) {
		writeJSON(w, http.StatusForbidden, oauthError{"access_denied", p.String() + " may not register tokens (it needs the register permission)"})
		return
	}
	single := false
	switch t, _, _ := publisher.MediaType(r.Header.Get("Content-Type")); t {
	case "application/x-ndjson", "application/jsonl", "application/json-seq":
	case "application/json":
		single = true
	default:
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Content-Type must be application/json (one record) or application/x-ndjson (one record per line)"})
		return
	}
	if r.ContentLength > h.opts.MaxBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, oauthError{"invalid_request", "body larger than " + strconv.FormatInt(h.opts.MaxBody, 10) + " bytes"})
		return
	}
	body := http.MaxBytesReader(w, r.Body, h.opts.MaxBody)
	res := ingest(r.Context(), h.reg, p, h.opts.MaxTokenLifetime, body, single)
	h.answer(w, res, p.String())
}

func (h *Handler) answer(w http.ResponseWriter, res Result, who string) {
	refused := len(res.Errors) + res.ErrorsOmitted
	if h.opts.Counted != nil {
		h.opts.Counted(res.Registered, refused)
	}
	h.opts.Log.Info().Str("principal", who).Int("registered", res.Registered).Int("refused", refused).Msg("tokens registered")
	switch {
	case res.Registered == 0 && refused > 0 && res.storeFailures == refused:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, res)
	case res.Registered == 0 && refused > 0:
		writeJSON(w, http.StatusBadRequest, res)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	id, secret, ok := auth.ParseBasic(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="revocast"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "client authentication failed"})
		return nil, false
	}
	p, err := h.opts.Auth.Authenticate(auth.KindClient, publisher.ClientIP(r), auth.BasicCandidates(id, secret)...)
	var rl *auth.RateLimitedError
	switch {
	case err == nil:
		return p, true
	case errors.As(err, &rl):
		secs := rl.Seconds()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, oauthError{"too_many_requests", "too many failed authentication attempts; retry after " + strconv.Itoa(secs) + " seconds"})
	default:
		w.Header().Set("WWW-Authenticate", `Basic realm="revocast"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "client authentication failed"})
	}
	return nil, false
}

// Serve answers registrations sent to Subject (a queue group, so several
// fronts share them) until the returned subscription is drained.
func (h *Handler) Serve(nc *nats.Conn) (*nats.Subscription, error) {
	return nc.QueueSubscribe(Subject, "revocast-registry", func(m *nats.Msg) {
		single := len(m.Data) > 0 && m.Data[0] == '{' && !containsNewlineRecord(m.Data)
		res := ingest(context.Background(), h.reg, nil, h.opts.MaxTokenLifetime, bytesReader(m.Data), single)
		h.answer(discard{}, res, "bus")
		if m.Reply != "" {
			b, _ := json.Marshal(res)
			_ = m.Respond(b)
		}
	})
}
