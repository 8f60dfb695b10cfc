package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Route is the registry feed.
const Route = "/v1/tokens"

// Issuers on the bus send the same records (NDJSON or one JSON object) as a
// request to their realm's subject, events.RegistrySubject(realm)
// (revocast.registry.<realm key>); the answer is the same JSON as on HTTP.
// NATS permissions confine an issuer to its realms' subjects, and a record
// of another realm than its subject's is refused.

// Defaults of Options.
const (
	// DefaultMaxBody bounds a registration body: 100k records fit easily.
	DefaultMaxBody = 64 << 20
	// DefaultMaxLines bounds the lines of one registration: short lines
	// cost parsing and answering even when each is refused.
	DefaultMaxLines = 500_000
	// DefaultChunkTimeout is how long a flowing body may take for its next
	// chunk of lines: the server's ReadTimeout.
	DefaultChunkTimeout = 30 * time.Second
)

// answerSlack is how long after the last read deadline the answer may still
// be written: the last chunks are stored first.
const answerSlack = 30 * time.Second

// Options configure the feed.
type Options struct {
	Auth             publisher.Authenticator
	MaxBody          int64         // DefaultMaxBody when zero
	MaxLines         int           // DefaultMaxLines when zero
	MaxTokenLifetime time.Duration // expiries further away are refused
	// ChunkTimeout (DefaultChunkTimeout when zero): after each chunk of
	// about 1,000 lines the connection's read deadline is moved this far
	// ahead, so a large body that keeps flowing is not cut by the server's
	// ReadTimeout while a stalled one still is.
	ChunkTimeout time.Duration
	Log          zerolog.Logger
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
	if opts.MaxLines == 0 {
		opts.MaxLines = DefaultMaxLines
	}
	if opts.ChunkTimeout == 0 {
		opts.ChunkTimeout = DefaultChunkTimeout
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
	p, err := h.authenticate(r)
	if err != nil {
		fail(w, err)
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
	lim := h.limits()
	lim.progress = h.extendDeadlines(w)
	// Lines read in full are stored even when the client goes away (a read
	// error cancels the request's context): Register bounds its own time.
	res := ingest(context.WithoutCancel(r.Context()), h.reg, p, lim, body, single)
	h.answer(w, res, p.String())
}

func (h *Handler) limits() limits {
	return limits{maxLifetime: h.opts.MaxTokenLifetime, maxLines: h.opts.MaxLines}
}

// extendDeadlines returns what moves the connection's deadlines after each
// chunk: reading may take ChunkTimeout more, the answer answerSlack after
// that. It warns once when it cannot (a ResponseWriter that hides the
// connection: a large body would be cut by the server's timeouts).
func (h *Handler) extendDeadlines(w http.ResponseWriter) func() {
	rc := http.NewResponseController(w)
	warned := false // the parser's goroutine alone calls it
	return func() {
		read := time.Now().Add(h.opts.ChunkTimeout)
		err := errors.Join(rc.SetReadDeadline(read), rc.SetWriteDeadline(read.Add(answerSlack)))
		if err != nil && !warned {
			warned = true
			h.opts.Log.Warn().Err(err).Msg("cannot move a registration's deadlines: a large body may be cut by the server's timeouts")
		}
	}
}

func (h *Handler) answer(w http.ResponseWriter, res Result, who string) {
	refused := len(res.Errors) + res.ErrorsOmitted
	if h.opts.Counted != nil {
		h.opts.Counted(res.Registered, refused)
	}
	ev := h.opts.Log.Info().Str("principal", who).Int("registered", res.Registered).Int("refused", refused)
	if res.Error != "" {
		ev = ev.Str("cut", res.Error).Int("last_stored_line", *res.LastStoredLine)
	}
	ev.Msg("tokens registered")
	switch {
	case res.Registered == 0 && refused > 0 && res.storeFailures == refused && (res.Error == "" || res.storeCut):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, res)
	case res.Registered == 0 && (refused > 0 || res.Error != ""):
		writeJSON(w, http.StatusBadRequest, res)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// authenticate checks the issuer's Basic credentials (RFC 6749 readings).
func (h *Handler) authenticate(r *http.Request) (*auth.Principal, error) {
	id, secret, ok := auth.ParseBasic(r.Header.Get("Authorization"))
	if !ok {
		return nil, auth.ErrBadCredentials
	}
	return h.opts.Auth.Authenticate(auth.KindClient, publisher.ClientIP(r), auth.BasicCandidates(id, secret)...)
}

// fail renders an authentication failure as the feed's RFC 6749 error body.
func fail(w http.ResponseWriter, err error) {
	f := publisher.Classify(err)
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch f.Kind {
	case publisher.KindRateLimited:
		writeJSON(w, http.StatusTooManyRequests, oauthError{"too_many_requests",
			fmt.Sprintf("%s; retry after %d seconds", f.RateLimitMessage(), f.RetryAfter)})
	case publisher.KindUnauthenticated:
		w.Header().Set("WWW-Authenticate", `Basic realm="revocast"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "client authentication failed"})
	default:
		writeJSON(w, http.StatusServiceUnavailable, oauthError{"temporarily_unavailable", "authentication is unavailable; retry"})
	}
}

// Serve answers registrations sent to the registry subjects (a queue group, so several
// fronts share them) until the returned subscription is drained.
func (h *Handler) Serve(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(events.RegistrySubjects, "revocast-registry", func(m *nats.Msg) {
		key, ok := events.RealmKeyOfRegistrySubject(m.Subject)
		if !ok {
			return
		}
		lim := h.limits()
		lim.realmKey = key
		single := len(m.Data) > 0 && m.Data[0] == '{' && !containsNewlineRecord(m.Data)
		res := ingest(context.Background(), h.reg, nil, lim, bytesReader(m.Data), single)
		h.answer(discard{}, res, "bus")
		// Answers go only to an issuer's inbox: the front may publish
		// nowhere else a requester names (see internal/natsauth).
		if strings.HasPrefix(m.Reply, natsauth.InboxPrefix(natsauth.Issuer, "")) {
			b, _ := json.Marshal(res)
			_ = m.Respond(b)
		}
	})
	if err != nil {
		return nil, err
	}
	// The server knows the subscription once the flush returns: a front
	// that says it is ready then answers the subject.
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("registry subject: %w", err)
	}
	return sub, nil
}
