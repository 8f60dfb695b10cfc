package publisher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/revocast/revocast/publisher/auth"
)

// Limits shared by the dialects.
const (
	// DefaultMaxBody bounds a request body.
	DefaultMaxBody = 64 << 10
	// MaxTokenLen bounds a token's length.
	MaxTokenLen = 16 << 10
	// MaxNameLen bounds realm, user, client and identity-domain names.
	MaxNameLen = 1024
)

// ErrBodyTooLarge is returned by ReadBody for a body over the limit.
var ErrBodyTooLarge = errors.New("request body too large")

// Revoker is what a dialect needs of the core.
type Revoker interface {
	Revoke(ctx context.Context, req Request) (Result, error)
}

var _ Revoker = (*Core)(nil)

// ReadBody reads the whole body, at most limit bytes.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, limit)
	}
	return b, nil
}

// MediaType returns the lowercased media type of a Content-Type or Accept
// value and its parameters; ok is false when it cannot be parsed. It accepts
// parameters written with or without a space after ';'.
func MediaType(v string) (typ string, params map[string]string, ok bool) {
	if strings.TrimSpace(v) == "" {
		return "", nil, false
	}
	t, p, err := mime.ParseMediaType(v)
	if err != nil {
		return "", nil, false
	}
	return strings.ToLower(t), p, true
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the client's address as the server
// resolved it (publisher/server does, once per request).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the client's address, for rate limiting and logs: the
// one the server resolved (from X-Forwarded-For only when the peer is a
// trusted proxy: anyone else can forge it), else the TCP peer's.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return PeerIP(r)
}

// PeerIP returns the address of the TCP peer.
func PeerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Authenticator is what a dialect needs to authenticate callers
// (*auth.Store implements it).
type Authenticator interface {
	Authenticate(kind auth.Kind, peer string, creds ...auth.Creds) (*auth.Principal, error)
}

var _ Authenticator = (*auth.Store)(nil)

// DialectOptions configure a request format's handler; every format takes
// these (each package names them Options).
type DialectOptions struct {
	// Auth authenticates callers. When nil every request is refused: a
	// wiring mistake fails closed, never open.
	Auth Authenticator
	// MaxBody bounds the request body (DefaultMaxBody when zero).
	MaxBody int64
	Log     zerolog.Logger
}

// WithDefaults fills the zero fields.
func (o DialectOptions) WithDefaults() DialectOptions {
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Auth == nil {
		o.Log.Error().Msg("no authenticator configured: every request to this format is refused")
		o.Auth = denyAll{}
	}
	return o
}

// denyAll refuses every credential.
type denyAll struct{}

func (denyAll) Authenticate(auth.Kind, string, ...auth.Creds) (*auth.Principal, error) {
	return nil, auth.ErrBadCredentials
}
