package ssf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Options configure a Receiver.
type Options struct {
	// Transmitters are the configured transmitters (ValidateTransmitters).
	Transmitters []TransmitterConfig
	// Core stores the requests signals imply.
	Core publisher.Revoker
	// Store and JetStream write and read the replay records and the poll
	// leases on the ledger stream Ledger.
	Store     publisher.Store
	JetStream jetstream.JetStream
	Ledger    string
	// IssuerRealms maps an issuer to its realm (the one map the front and
	// the sidecars use); UserClaims names each realm's user claim ("sub"
	// when absent).
	IssuerRealms map[string]string
	UserClaims   map[string]string
	// MaxTokenLifetime bounds how old a signal may be (older ones can
	// affect no live token, and their replay records may be gone) and how
	// long replay records are kept.
	MaxTokenLifetime time.Duration
	// Origin names this front in poll leases.
	Origin string
	// LeaseTTL is how long a poll lease lasts unrenewed (DefaultLeaseTTL).
	LeaseTTL time.Duration
	// HTTPClient fetches JWKS and polls (one with timeouts when nil).
	HTTPClient *http.Client
	Log        zerolog.Logger
	Metrics    prometheus.Registerer // nil: metrics not exported
	Now        func() time.Time
}

// Receiver accepts signals from the configured transmitters.
type Receiver struct {
	core         publisher.Revoker
	replay       *replayLedger
	js           jetstream.JetStream
	ledger       string
	transmitters []*transmitter
	byName       map[string]*transmitter
	pushAuth     *auth.Store // nil without push transmitters
	issuerRealms map[string]string
	userClaims   map[string]string
	window       time.Duration
	origin       string
	leaseTTL     time.Duration
	client       *http.Client
	log          zerolog.Logger
	m            *metrics
	now          func() time.Time
}

// transmitter is a configured transmitter, ready to use.
type transmitter struct {
	cfg          TransmitterConfig
	keys         *keySet
	principal    *auth.Principal
	defaultRealm string
	pollToken    string
}

// allows reports whether the transmitter's signals may affect realm.
func (t *transmitter) allows(realm string) bool { return realm != "" && t.principal.InRealm(realm) }

// New validates the transmitters and returns a Receiver. Pollers start
// with RunPollers.
func New(o Options) (*Receiver, error) {
	if err := ValidateTransmitters(o.Transmitters); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxTokenLifetime == 0 {
		o.MaxTokenLifetime = events.DefaultMaxTokenLifetime
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	r := &Receiver{core: o.Core, replay: &replayLedger{js: o.JetStream, store: o.Store, ledger: o.Ledger},
		js: o.JetStream, ledger: o.Ledger, byName: map[string]*transmitter{}, issuerRealms: o.IssuerRealms,
		userClaims: o.UserClaims, window: o.MaxTokenLifetime, origin: o.Origin, leaseTTL: o.LeaseTTL,
		client: o.HTTPClient, log: o.Log.With().Str("component", "ssf").Logger(), m: newMetrics(o.Metrics), now: o.Now}
	var creds []auth.Credential
	for _, tc := range o.Transmitters {
		c := tc.withDefaults()
		t := &transmitter{cfg: c, principal: auth.NewPrincipal(auth.KindTransmitter, c.Name, []string{string(auth.OpSSF)}, c.Realms)}
		t.keys = &keySet{uri: c.JWKSURI, algs: c.Algorithms, client: o.HTTPClient, minRefresh: c.JWKSMinRefresh,
			maxAge: c.JWKSMaxAge, now: o.Now, log: r.log.With().Str("transmitter", c.Name).Logger(),
			onFetch: func(err error) {
				res := "ok"
				if err != nil {
					res = "error"
				}
				r.m.jwks.WithLabelValues(c.Name, res).Inc()
			}}
		if c.JWKSFile != "" {
			keys, err := readKeyFile(c.JWKSFile, c.Algorithms)
			if err != nil {
				return nil, fmt.Errorf("transmitter %q: jwks_file: %w", c.Name, err)
			}
			t.keys.keys = keys
		}
		t.defaultRealm = r.defaultRealm(&c)
		if c.Poll != nil {
			tok, err := pollToken(c.Poll)
			if err != nil {
				return nil, fmt.Errorf("transmitter %q: poll: %w", c.Name, err)
			}
			t.pollToken = tok
		}
		if c.Push != nil {
			creds = append(creds, auth.Credential{Kind: auth.KindTransmitter, ID: c.Name, SecretHash: c.Push.BearerTokenHash,
				Allow: []string{string(auth.OpSSF)}, Realms: c.Realms})
		}
		r.transmitters = append(r.transmitters, t)
		r.byName[c.Name] = t
	}
	if len(creds) > 0 {
		st, err := auth.NewStore(auth.Config{Credentials: creds})
		if err != nil {
			return nil, fmt.Errorf("transmitters: %w", err)
		}
		r.pushAuth = st
	}
	return r, nil
}

// MaxPollTimeout is the longest poll.timeout.
const MaxPollTimeout = 10 * time.Minute

// defaultRealm is the realm of a transmitter's subjects that name none:
// its issuer's realm when configured, else its only realm, else its issuer.
func (r *Receiver) defaultRealm(c *TransmitterConfig) string {
	if realm, ok := r.issuerRealms[c.Issuer]; ok {
		return realm
	}
	if len(c.Realms) == 1 && c.Realms[0] != auth.Any {
		return c.Realms[0]
	}
	return c.Issuer
}

// HasPush, HasPoll and HasLogout say which routes and loops are needed.
func (r *Receiver) HasPush() bool { return r.pushAuth != nil }

// HasPoll reports whether a transmitter is polled.
func (r *Receiver) HasPoll() bool {
	return slices.ContainsFunc(r.transmitters, func(t *transmitter) bool { return t.cfg.Poll != nil })
}

// HasLogout reports whether a transmitter sends logout tokens.
func (r *Receiver) HasLogout() bool {
	return slices.ContainsFunc(r.transmitters, func(t *transmitter) bool { return t.cfg.BackchannelLogout != nil })
}

// apply verifies a SET from t, maps it and stores what it implies. It
// returns the SET (nil when it could not be read), and nil once everything
// it implies is stored (now or by an earlier delivery); a *Error when it is
// refused (nothing stored); or an error wrapping ErrUnavailable or
// ErrOverBudget (nothing acknowledged: the transmitter retries).
func (r *Receiver) apply(ctx context.Context, t *transmitter, raw, delivery string) (*SET, error) {
	start := r.now()
	s, reqs, err := r.verifySET(ctx, t, raw)
	if err == nil {
		err = r.store(ctx, t, reqs, seenKey("set", s.Issuer, s.JTI), s.IssuedAt, s.Issuer, s.JTI)
	}
	r.record(t, delivery, s, err, start)
	if errors.Is(err, errReplayed) {
		return s, nil
	}
	return s, err
}

// verifySET checks and maps a SET; its error is a *Error.
func (r *Receiver) verifySET(ctx context.Context, t *transmitter, raw string) (*SET, []publisher.Request, error) {
	h, e := peekHeader(raw)
	if e != nil {
		return nil, nil, e
	}
	if !typIs(h.Typ, "secevent+jwt") {
		return nil, nil, refuse(CodeInvalidRequest, "typ must be secevent+jwt (RFC 8417), not %s", quote(h.Typ))
	}
	payload, _, e := verifyJWS(ctx, t.keys, t.cfg.Algorithms, raw)
	if e != nil {
		return nil, nil, e
	}
	s, e := ParseSET(payload)
	if e != nil {
		return nil, nil, e
	}
	if e := checkSET(s, t.cfg.Issuer, t.cfg.Audience, r.now(), r.window); e != nil {
		return s, nil, e
	}
	reqs, um, e := r.mapSET(t, s)
	if um != nil {
		r.m.unmapped.WithLabelValues(t.cfg.Name, um.what).Inc()
		return s, nil, um.err
	}
	if e != nil {
		return s, nil, e
	}
	return s, reqs, nil
}

// store applies a verified signal's requests once: a signal whose replay
// record exists changes nothing; otherwise each request is stored (under
// an idempotency key derived from the signal, so a concurrent redelivery
// is stored once), then the record is written.
func (r *Receiver) store(ctx context.Context, t *transmitter, reqs []publisher.Request, key events.Sum, iat time.Time, iss, jti string) error {
	seen, err := r.replay.seen(ctx, key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if seen {
		return errReplayed
	}
	idem := "sig-" + key.String()[:40]
	for i, req := range reqs {
		// One key per request: the core names a rule's message after the
		// rule's scope, not its time, so two events of one SET about the
		// same user (credential-change, then account-disabled) shared a
		// message id and the later one was dropped as a duplicate. The
		// requests come in the same order on every delivery (events sorted
		// by type), so a redelivery still reuses each one's key.
		req.Op, req.Principal, req.IdempotencyKey = auth.OpSSF, t.principal, fmt.Sprintf("%s-%d", idem, i)
		res, err := r.core.Revoke(ctx, req)
		if err != nil {
			return r.classify(err)
		}
		for _, d := range res.Details {
			if d.Kind == publisher.DetailStore {
				return fmt.Errorf("%w: %w", ErrUnavailable, d.Err)
			}
		}
	}
	// The record outlives every token the signal can affect (its iat is at
	// most the window old), plus the clock skew either side.
	if err := r.replay.mark(ctx, key, iat.Add(r.window+2*events.MaxClockSkew)); err != nil {
		// Everything the signal implies is stored: a redelivery would
		// store the same again, which changes nothing. Not a failure.
		r.log.Warn().Err(err).Str("transmitter", t.cfg.Name).Str("jti", truncate(jti, 64)).Msg("the signal is applied but its replay record could not be written")
	}
	return nil
}

// errReplayed: the signal was applied before; it changes nothing and is
// answered as accepted.
var errReplayed = errors.New("replayed")

// classify turns the core's refusal into a signal's answer.
func (r *Receiver) classify(err error) error {
	f := publisher.Classify(err)
	switch f.Kind {
	case publisher.KindForbidden:
		return refuse(CodeAccessDenied, "%s", f.Forbidden.Error())
	case publisher.KindInvalid:
		return refuse(CodeInvalidRequest, "%s", err.Error())
	case publisher.KindOverBudget:
		return fmt.Errorf("%w: %w", ErrOverBudget, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// record counts and logs a signal's outcome. Never the token, nor the
// user it names.
func (r *Receiver) record(t *transmitter, delivery string, s *SET, err error, start time.Time) {
	result := "accepted"
	var e *Error
	switch {
	case err == nil:
	case errors.Is(err, errReplayed):
		result = "replayed"
	case errors.As(err, &e):
		result = string(e.Code)
	case errors.Is(err, ErrOverBudget):
		result = "over_budget"
	default:
		result = "unavailable"
	}
	r.m.signals.WithLabelValues(t.cfg.Name, delivery, result).Inc()
	ev := r.log.Info()
	if err != nil && !errors.Is(err, errReplayed) {
		ev = r.log.Warn().Err(err)
	}
	ev = ev.Str("transmitter", t.cfg.Name).Str("delivery", delivery).Str("result", result).
		Dur("took_ms", r.now().Sub(start))
	if s != nil {
		types := make([]string, len(s.Events))
		for i, x := range s.Events {
			types[i] = strings.TrimPrefix(x.Type, "https://schemas.openid.net/secevent/")
		}
		ev = ev.Str("jti", truncate(s.JTI, 64)).Strs("events", types)
	}
	ev.Msg("signal")
}
