package ssf

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher/auth"
)

// Algorithms a transmitter may sign with. none and HMAC never: a shared
// secret would let anyone who verifies also forge.
var Algorithms = []string{"RS256", "ES256", "EdDSA"}

// Defaults and bounds of a TransmitterConfig.
const (
	DefaultJWKSMinRefresh = 10 * time.Second
	DefaultJWKSMaxAge     = time.Hour
	DefaultMaxEvents      = 100
	MaxMaxEvents          = 1000
	DefaultPollTimeout    = 60 * time.Second
	// DefaultLeaseTTL: a front that stops renewing its poll lease hands
	// the transmitter to another front after this long.
	DefaultLeaseTTL = 10 * time.Second
)

// TransmitterConfig is one transmitter of the config file's transmitters
// list: an identity provider whose signals revocast accepts.
type TransmitterConfig struct {
	// Name names the transmitter in metrics, logs and its poll lease: 1 to
	// 64 of [A-Za-z0-9_-].
	Name string `yaml:"name"`
	// Issuer is the iss of its SETs and logout tokens.
	Issuer string `yaml:"issuer"`
	// Exactly one of JWKSFile (a JWKS read at start) and JWKSURI (fetched,
	// cached, refreshed on an unknown kid at most every JWKSMinRefresh and
	// at least every JWKSMaxAge).
	JWKSFile       string        `yaml:"jwks_file"`
	JWKSURI        string        `yaml:"jwks_uri"`
	JWKSMinRefresh time.Duration `yaml:"jwks_min_refresh"`
	JWKSMaxAge     time.Duration `yaml:"jwks_max_age"`
	// Audience is the aud its SETs must carry (revocast, as the stream's
	// receiver).
	Audience string `yaml:"audience"`
	// Algorithms it signs with, from Algorithms (all of them when empty).
	Algorithms []string `yaml:"algorithms"`
	// Realms are the realms its signals may affect ("*": every realm).
	Realms []string `yaml:"realms"`
	// Push, Poll: how its SETs arrive (at most one); BackchannelLogout:
	// its logout tokens are accepted too.
	Push              *PushConfig   `yaml:"push"`
	Poll              *PollConfig   `yaml:"poll"`
	BackchannelLogout *LogoutConfig `yaml:"backchannel_logout"`
}

// PushConfig: the transmitter pushes to POST /ssf/events with
// Authorization: Bearer <token>; only the token's hash is configured
// (revocast hash-secret).
type PushConfig struct {
	BearerTokenHash string `yaml:"bearer_token_hash"`
}

// PollConfig: a front polls URL (RFC 8936) with Authorization: Bearer
// <token>, the token read from a file or an environment variable (never the
// config file), asking for up to MaxEvents SETs per request and waiting up
// to Timeout for a long poll's answer.
type PollConfig struct {
	URL             string        `yaml:"url"`
	BearerTokenFile string        `yaml:"bearer_token_file"`
	BearerTokenEnv  string        `yaml:"bearer_token_env"`
	MaxEvents       int           `yaml:"max_events"`
	Timeout         time.Duration `yaml:"timeout"`
}

// LogoutConfig: logout tokens from the transmitter's issuer are accepted at
// POST /oidc/backchannel-logout when their aud names one of Audiences: the
// client ids whose back-channel logout URL points at revocast (an identity
// provider addresses each logout token to one client).
type LogoutConfig struct {
	Audiences []string `yaml:"audiences"`
}

func (t *TransmitterConfig) withDefaults() TransmitterConfig {
	c := *t
	if len(c.Algorithms) == 0 {
		c.Algorithms = Algorithms
	}
	if c.JWKSMinRefresh == 0 {
		c.JWKSMinRefresh = DefaultJWKSMinRefresh
	}
	if c.JWKSMaxAge == 0 {
		c.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if c.Poll != nil {
		p := *c.Poll
		if p.MaxEvents == 0 {
			p.MaxEvents = DefaultMaxEvents
		}
		if p.Timeout == 0 {
			p.Timeout = DefaultPollTimeout
		}
		c.Poll = &p
	}
	return c
}

// ValidateTransmitters checks every transmitter, reads their JWKS files and
// poll tokens, and reports every problem at once. It never echoes a secret.
func ValidateTransmitters(ts []TransmitterConfig) error {
	var errs []error
	names, issuers := map[string]bool{}, map[string]bool{}
	for i := range ts {
		t := ts[i].withDefaults()
		where := fmt.Sprintf("transmitters #%d", i+1)
		if t.Name != "" {
			where = fmt.Sprintf("transmitter %q", truncate(t.Name, 64))
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{where}, args...)...))
		}
		if events.ValidID(t.Name) != nil {
			bad("name must be 1 to 64 of A-Z a-z 0-9 _ -")
		}
		if names[t.Name] {
			bad("defined twice")
		}
		names[t.Name] = true
		if t.Issuer == "" || len(t.Issuer) > events.MaxNameLen {
			bad("issuer must be 1 to %d bytes", events.MaxNameLen)
		}
		if issuers[t.Issuer] {
			bad("issuer %q belongs to another transmitter too", truncate(t.Issuer, 128))
		}
		issuers[t.Issuer] = true
		switch {
		case (t.JWKSFile == "") == (t.JWKSURI == ""):
			bad("give exactly one of jwks_file and jwks_uri")
		case t.JWKSFile != "":
			if _, err := readKeyFile(t.JWKSFile, t.Algorithms); err != nil {
				bad("jwks_file: %w", err)
			}
		default:
			if err := checkURL(t.JWKSURI); err != nil {
				bad("jwks_uri: %w", err)
			}
		}
		if t.JWKSMinRefresh < time.Second || t.JWKSMaxAge < t.JWKSMinRefresh {
			bad("jwks_min_refresh must be at least 1s and jwks_max_age at least jwks_min_refresh")
		}
		for _, a := range t.Algorithms {
			switch {
			case slices.Contains(Algorithms, a):
			case strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS"):
				bad("algorithm %q is never accepted: a SET must be signed with a public key (%s)", a, strings.Join(Algorithms, ", "))
			default:
				bad("algorithm %q is not supported (want %s)", a, strings.Join(Algorithms, ", "))
			}
		}
		if len(t.Realms) == 0 {
			bad("realms lists no realm (the realms its signals may affect, or \"*\")")
		}
		for _, r := range t.Realms {
			if r == "" || len(r) > events.MaxNameLen {
				bad("a realm name must be 1 to %d bytes", events.MaxNameLen)
			}
		}
		if t.Push == nil && t.Poll == nil && t.BackchannelLogout == nil {
			bad("give push, poll or backchannel_logout")
		}
		if t.Push != nil && t.Poll != nil {
			bad("give push or poll, not both")
		}
		if (t.Push != nil || t.Poll != nil) && (t.Audience == "" || len(t.Audience) > events.MaxNameLen) {
			bad("audience (the aud its SETs carry) must be 1 to %d bytes", events.MaxNameLen)
		}
		if t.Push != nil {
			if err := auth.ValidHash(t.Push.BearerTokenHash); err != nil {
				bad("push.bearer_token_hash: %w", err)
			}
		}
		if p := t.Poll; p != nil {
			if err := checkURL(p.URL); err != nil {
				bad("poll.url: %w", err)
			}
			if _, err := pollToken(p); err != nil {
				bad("poll: %w", err)
			}
			if p.MaxEvents < 1 || p.MaxEvents > MaxMaxEvents {
				bad("poll.max_events must be 1 to %d", MaxMaxEvents)
			}
			if p.Timeout < time.Second || p.Timeout > 10*time.Minute {
				bad("poll.timeout must be 1s to 10m")
			}
		}
		if l := t.BackchannelLogout; l != nil {
			if len(l.Audiences) == 0 || len(l.Audiences) > 100 {
				bad("backchannel_logout.audiences lists 1 to 100 client ids (those whose back-channel logout URL is revocast's)")
			}
			for _, a := range l.Audiences {
				if a == "" || len(a) > events.MaxNameLen {
					bad("backchannel_logout.audiences: a client id must be 1 to %d bytes", events.MaxNameLen)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// checkURL accepts https, and http to a loopback address only (tests, a
// transmitter on the same host): keys and tokens do not cross a network in
// the clear.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", truncate(s, 128))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("%q must be https (http only to a loopback address)", truncate(s, 128))
}

// maxRedirects bounds the redirects a key fetch or a poll follows.
const maxRedirects = 5

// defaultHTTPClient fetches keys and polls. A redirect is held to what
// checkURL holds the configured URL to: Go's client keeps the
// Authorization header on a redirect to the same host, so a poll
// redirected from https to http would send its bearer token in the clear,
// and a key fetch sent to plain http elsewhere reads keys anyone on the
// path could replace.
func defaultHTTPClient() *http.Client {
	return &http.Client{Timeout: MaxPollTimeout + time.Minute, CheckRedirect: checkRedirect}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if err := checkURL(req.URL.String()); err != nil {
		return fmt.Errorf("redirect refused: %w", err)
	}
	return nil
}

// maxPollToken bounds a poll bearer token.
const maxPollToken = 4096

// pollToken reads the poll bearer token from its file or variable.
func pollToken(p *PollConfig) (string, error) {
	var tok string
	switch {
	case (p.BearerTokenFile == "") == (p.BearerTokenEnv == ""):
		return "", errors.New("give exactly one of bearer_token_file and bearer_token_env")
	case p.BearerTokenFile != "":
		b, err := readBounded(p.BearerTokenFile, maxPollToken)
		if err != nil {
			return "", fmt.Errorf("bearer_token_file: %w", err)
		}
		tok = string(b)
	default:
		tok = os.Getenv(p.BearerTokenEnv)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > maxPollToken || strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("the bearer token must be 1 to %d bytes on one line", maxPollToken)
	}
	return tok, nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
