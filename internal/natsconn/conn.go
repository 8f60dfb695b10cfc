package natsconn

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Options for Connect.
type Options struct {
	// URLs is a comma-separated list of server URLs (a cluster).
	URLs string
	// Name identifies the connection in the server's monitoring.
	Name string
	// Auth: credentials and TLS (zero: anonymous, plain).
	Auth Auth
	// InboxPrefix is the prefix of this client's reply subjects
	// ("_INBOX_<role or id>"), which NATS permissions confine each identity
	// to; "" keeps the default _INBOX.
	InboxPrefix string
	// Extra options, e.g. nats.InProcessServer in tests and dev mode.
	Extra []nats.Option
	// OnTooOld is called when a server older than MinServerVersion answers
	// (the connection is closed first): revocast cannot work with it.
	OnTooOld func(error)
}

// MinServerVersion is the oldest nats-server revocast works with: per-message
// TTL and KeyValue per-key TTL came in 2.11.
const MinServerVersion = "2.11.0"

// ErrServerTooOld: the NATS server is older than MinServerVersion.
var ErrServerTooOld = errors.New("NATS server too old")

// Connect opens a connection that reconnects forever and may be opened while
// the server is still down (the first connect is retried in the background).
func Connect(o Options, log zerolog.Logger) (*nats.Conn, error) {
	url := strings.TrimSpace(o.URLs)
	var lastFail atomic.Int64
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // closed on purpose: a shutdown
			}
			log.Warn().Err(err).Msg("disconnected from NATS")
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			// Called on every failed attempt (about 4 a second): said at
			// most every 10 s, with the URL and the reason.
			now := time.Now().UnixNano()
			if last := lastFail.Load(); now-last < int64(10*time.Second) || !lastFail.CompareAndSwap(last, now) {
				return
			}
			ev := log.Warn().Err(err).Str("url", redact(url))
			if isAuthError(err) {
				ev.Str("credentials", o.Auth.Describe()).Msg("NATS refused the credentials; retrying")
				return
			}
			ev.Msg("cannot connect to NATS; retrying")
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			if tooOld(c, o, log) {
				return
			}
			log.Info().Str("url", c.ConnectedUrlRedacted()).Msg("reconnected to NATS")
		}),
		nats.ConnectHandler(func(c *nats.Conn) {
			if tooOld(c, o, log) {
				return
			}
			log.Info().Str("url", c.ConnectedUrlRedacted()).Str("server_version", c.ConnectedServerVersion()).Msg("connected to NATS")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			ev := log.Error().Err(err)
			if s != nil {
				ev = ev.Str("subject", s.Subject)
			}
			switch {
			case isAuthError(err):
				ev.Str("credentials", o.Auth.Describe()).Msg("NATS refused the credentials")
			case errors.Is(err, nats.ErrPermissionViolation):
				ev.Str("credentials", o.Auth.Describe()).Msg("NATS refused an action these credentials may not take")
			default:
				ev.Msg("NATS error")
			}
		}),
	}
	auth, err := o.Auth.Options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, auth...)
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	opts = append(opts, o.Extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redact(url), err)
	}
	return nc, nil
}

// tooOld refuses a server older than MinServerVersion: it logs why, closes
// the connection and tells OnTooOld.
func tooOld(c *nats.Conn, o Options, log zerolog.Logger) bool {
	if v := c.ConnectedServerVersion(); v == "" || versionAtLeast(v, 2, 11) {
		return false
	}
	e := fmt.Errorf("%w: %s at %s is version %s: revocast needs nats-server %s or newer (per-message TTL, KeyValue per-key TTL; Debian's package is 2.9: use the official release or the embedded server of revocast dev)",
		ErrServerTooOld, c.ConnectedServerName(), c.ConnectedUrlRedacted(), c.ConnectedServerVersion(), MinServerVersion)
	log.Error().Err(e).Msg("refusing the NATS server")
	go c.Close()
	if o.OnTooOld != nil {
		o.OnTooOld(e)
	}
	return true
}

// versionAtLeast reports whether a "major.minor.patch[-suffix]" version is
// at least major.minor; an unreadable one passes (the server will say).
func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &ma, &mi); err != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}

func isAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) ||
		strings.Contains(strings.ToLower(fmt.Sprint(err)), "authorization violation")
}

// redact removes user information from URLs for logs and errors.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "[redacted]" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}
