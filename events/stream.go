package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lifetimes.
const (
	// DefaultMaxTokenLifetime is the default --max-token-lifetime: the
	// longest any revocation or rule is kept, whatever a token says.
	DefaultMaxTokenLifetime = 24 * time.Hour
	// ExpiryLeeway is added to a token's expiry before its revocation is
	// dropped, so a resource server whose clock lags still finds it.
	ExpiryLeeway = time.Minute
	// MaxClockSkew is the clock difference tolerated between components: a
	// rule may not reach tokens issued further in the future than this.
	MaxClockSkew = time.Minute
)

// Stream defaults.
const (
	DefaultStreamName      = "REVOCAST"
	DefaultDuplicateWindow = 2 * time.Minute
	// MinMsgTTL is the smallest per-message TTL JetStream accepts.
	MinMsgTTL = time.Second
	// MaxMsgTTL bounds a per-message TTL, whatever a caller asks for (the
	// front and the sidecars clamp to --max-token-lifetime well before).
	MaxMsgTTL = 10 * 365 * 24 * time.Hour
	// MaxEventSize bounds one stored event (a batch of MaxBatch tokens is
	// about 20 KiB in the binary encoding, up to 80 KiB as the JSON earlier
	// fronts wrote).
	MaxEventSize = 256 << 10
)

// StreamOptions configures the revocation stream.
type StreamOptions struct {
	// Name of the stream; DefaultStreamName when empty.
	Name string
	// Replicas is the number of copies JetStream keeps (1, 3 or 5; 3 in a
	// production cluster). 0 means 1.
	Replicas int
	// DuplicateWindow is how long JetStream remembers message ids, so that a
	// publish retried after a lost acknowledgement is stored once.
	// DefaultDuplicateWindow when zero.
	DuplicateWindow time.Duration
}

func (o StreamOptions) withDefaults() StreamOptions {
	if o.Name == "" {
		o.Name = DefaultStreamName
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	return o
}

// Config returns the stream definition: file storage, one message kept per
// subject (the latest revocation of a token or scope wins), per-message TTL
// so revocations leave once every token they can affect has expired, and a
// dedup window for retried publishes.
func (o StreamOptions) Config() jetstream.StreamConfig {
	o = o.withDefaults()
	return jetstream.StreamConfig{
		Name:              o.Name,
		Description:       "revocast revocation events",
		Subjects:          []string{StreamSubjects},
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxMsgSize:        MaxEventSize,
		Duplicates:        o.DuplicateWindow,
		AllowMsgTTL:       true,
		AllowDirect:       true,
	}
}

// LedgerName returns the ledger stream's name.
func (o StreamOptions) LedgerName() string { return o.withDefaults().Name + "_LEDGER" }

// LedgerConfig returns the ledger stream: one message per revoked token on
// its ledger subject, kept until the token expires. Sidecars never read it;
// the front writes each only if the subject is empty, which decides which
// request counts a token as invalidated. It is a stream of its own, so the
// server stores ledger entries and events in parallel.
func (o StreamOptions) LedgerConfig() jetstream.StreamConfig {
	o = o.withDefaults()
	return jetstream.StreamConfig{
		Name:              o.LedgerName(),
		Description:       "revocast revocation ledger: which tokens are revoked, for exact counts",
		Subjects:          []string{LedgerSubjects},
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxMsgSize:        1 << 10,
		Duplicates:        o.DuplicateWindow,
		AllowMsgTTL:       true,
	}
}

// EnsureStream creates the revocation and ledger streams, or updates them
// to the current definition, and returns the revocation stream.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	cfg := o.Config()
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
	}
	lcfg := o.LedgerConfig()
	if _, err := js.CreateOrUpdateStream(ctx, lcfg); err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", lcfg.Name, err)
	}
	return s, nil
}

// MsgTTL returns the per-message TTL for an event that must be kept until
// expiresAt: whole seconds, rounded up, at least MinMsgTTL.
func MsgTTL(expiresAt, now time.Time) time.Duration {
	d := expiresAt.Sub(now)
	if d < MinMsgTTL {
		return MinMsgTTL
	}
	if d > MaxMsgTTL { // Sub saturates; rounding up a saturated value would overflow
		return MaxMsgTTL
	}
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}
