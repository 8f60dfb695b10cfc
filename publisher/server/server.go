package server

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"

	"github.com/revocast/revocast/internal/httpx"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/elasticsearch"
	"github.com/revocast/revocast/publisher/oam"
	"github.com/revocast/revocast/publisher/onelogin"
	"github.com/revocast/revocast/publisher/registry"
	"github.com/revocast/revocast/publisher/revocations"
	"github.com/revocast/revocast/publisher/rfc7009"
	"github.com/revocast/revocast/publisher/ssf"
)

// Options configure the front's handler.
type Options struct {
	Core     publisher.Revoker
	Auth     publisher.Authenticator
	Log      zerolog.Logger
	Metrics  *publisher.Metrics  // nil: no per-route metrics
	Gatherer prometheus.Gatherer // nil: no /metrics
	Ready    func() error        // nil: always ready
	// Warnings are problems that do not make the front unready, listed in
	// /readyz's body (a sidecar id run twice); nil: none.
	Warnings func() []string
	MaxBody  int64        // 0: publisher.DefaultMaxBody
	Registry http.Handler // the registry feed (POST /v1/tokens); nil: none
	// SSFPush and BackchannelLogout receive identity providers' signals
	// (publisher/ssf: POST /ssf/events, POST /oidc/backchannel-logout);
	// nil: not served.
	SSFPush           http.Handler
	BackchannelLogout http.Handler
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (see Wrap); nil: the client is always the TCP peer.
	TrustedProxies []netip.Prefix
}

// route is one mounted dialect.
type route struct {
	name    string
	pattern string
	handler http.Handler
}

// New returns the front's handler.
func New(o Options) http.Handler {
	routes := []route{
		{"elasticsearch", elasticsearch.Route, elasticsearch.New(o.Core, elasticsearch.Options{Auth: o.Auth, MaxBody: o.MaxBody, Log: o.Log})},
		{"oam", oam.Route, oam.New(o.Core, oam.Options{Auth: o.Auth, MaxBody: o.MaxBody, Log: o.Log})},
		{"onelogin", onelogin.Route, onelogin.New(o.Core, onelogin.Options{Auth: o.Auth, MaxBody: o.MaxBody, Log: o.Log})},
		{"rfc7009", rfc7009.Route, rfc7009.New(o.Core, rfc7009.Options{Auth: o.Auth, MaxBody: o.MaxBody, Log: o.Log})},
		{"revocations", revocations.Route, revocations.New(o.Core, revocations.Options{Auth: o.Auth, MaxBody: o.MaxBody, Log: o.Log})},
	}
	if o.Registry != nil {
		routes = append(routes, route{"registry", registry.Route, o.Registry})
	}
	if o.SSFPush != nil {
		routes = append(routes, route{"ssf", ssf.PushRoute, o.SSFPush})
	}
	if o.BackchannelLogout != nil {
		routes = append(routes, route{"backchannel_logout", ssf.LogoutRoute, o.BackchannelLogout})
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.pattern, instrument(o.Metrics, rt.name, rt.handler))
	}
	mux.Handle("GET /healthz", instrument(o.Metrics, "healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	mux.Handle("GET /readyz", instrument(o.Metrics, "readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := map[string]any{"ready": true}
		if o.Warnings != nil {
			if ws := o.Warnings(); len(ws) > 0 {
				body["warnings"] = ws
			}
		}
		if o.Ready != nil {
			if err := o.Ready(); err != nil {
				body["ready"], body["reason"] = false, err.Error()
				writeJSON(w, http.StatusServiceUnavailable, body)
				return
			}
		}
		writeJSON(w, http.StatusOK, body)
	})))
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "reason": "no route " + r.Method + " " + r.URL.Path})
	})
	return Wrap(o.Log, o.TrustedProxies, mux)
}

// Wrap adds the client's address, the access log and the panic guard
// around h. The client is the TCP peer, or when the peer is in trusted, the
// address X-Forwarded-For names (resolveClient); publisher.ClientIP returns
// it. The access log records method, path, status, size, duration, the
// peer and the client when it differs: never the query string (tokens
// travel there in some clients), other headers or bodies.
func Wrap(log zerolog.Logger, trusted []netip.Prefix, h http.Handler) http.Handler {
	h = httpx.RefuseTunnels(recoverer(log, h))
	h = hlog.AccessHandler(func(r *http.Request, status, size int, d time.Duration) {
		e := hlog.FromRequest(r).Info().Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
			Int("size", size).Dur("took_ms", d).Str("peer", publisher.PeerIP(r))
		if c := publisher.ClientIP(r); c != publisher.PeerIP(r) {
			e = e.Str("client", c)
		}
		e.Msg("http")
	})(h)
	return clientAddress(trusted, hlog.NewHandler(log)(h))
}

func recoverer(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error().Interface("panic", v).Str("path", r.URL.Path).Msg("handler panicked: this is a bug")
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal_error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (the registry
// feed moves its read deadline while a large body flows).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func instrument(m *publisher.Metrics, name string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		m.Requests.WithLabelValues(name, strconv.Itoa(sw.code)).Inc()
		m.RequestDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
