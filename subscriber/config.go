package subscriber

import (
	"errors"
	"fmt"
	"time"

	"github.com/revocast/revocast/events"
)

// StalePolicy says how checks are answered when the sidecar cannot vouch for
// its state (stale, or a revocation it could not apply).
type StalePolicy string

// Policies.
const (
	PolicyDeny  StalePolicy = "deny"  // answer Unavailable (HTTP 503): fail closed
	PolicyAllow StalePolicy = "allow" // answer from what is known, flagged stale
)

// Defaults of Config.
const (
	DefaultMaxStaleness      = 60 * time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultBatchSize         = 1000
)

// Config configures a Subscriber.
type Config struct {
	// ID names this sidecar in outcomes and error_details; unique per sidecar.
	ID string
	// Stream is the revocation stream's name (events.DefaultStreamName when empty).
	Stream string
	// MaxStaleness is how long the sidecar may go without confirming it is
	// caught up before StalePolicy applies.
	MaxStaleness time.Duration
	// StalePolicy applies when stale or unhealthy (PolicyDeny when empty).
	StalePolicy StalePolicy
	// HeartbeatInterval is how often presence is announced and catch-up confirmed.
	HeartbeatInterval time.Duration
	// IssuerRealms maps a JWT's iss to a realm name; an unmapped iss is its own realm.
	IssuerRealms map[string]string
	// UserClaims names, per realm, the JWT claim that names the user for
	// rules (preferred_username, email); a realm not listed uses sub.
	UserClaims map[string]string
	// BatchSize is how many events are applied to the cache at once.
	BatchSize int
	// MaxTokenLifetime bounds how long any revocation is kept, whatever its
	// event says (events.DefaultMaxTokenLifetime when zero).
	MaxTokenLifetime time.Duration
}

// ErrConfig wraps configuration problems.
var ErrConfig = errors.New("invalid subscriber configuration")

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = events.DefaultStreamName
	}
	if c.MaxStaleness == 0 {
		c.MaxStaleness = DefaultMaxStaleness
	}
	if c.StalePolicy == "" {
		c.StalePolicy = PolicyDeny
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxTokenLifetime == 0 {
		c.MaxTokenLifetime = events.DefaultMaxTokenLifetime
	}
}

// Validate reports every problem at once; zero fields take their defaults.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if events.ValidID(c.ID) != nil {
		errs = append(errs, fmt.Errorf("%w: --id must be 1 to 64 letters, digits, '_' or '-' (it names the sidecar's NATS subjects), got %q",
			ErrConfig, truncateID(c.ID)))
	}
	if c.StalePolicy != PolicyDeny && c.StalePolicy != PolicyAllow {
		errs = append(errs, fmt.Errorf("%w: stale policy must be %q or %q, got %q", ErrConfig, PolicyDeny, PolicyAllow, c.StalePolicy))
	}
	if c.MaxStaleness < time.Second {
		errs = append(errs, fmt.Errorf("%w: max staleness must be at least 1s", ErrConfig))
	}
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval > c.MaxStaleness/2 {
		errs = append(errs, fmt.Errorf("%w: heartbeat interval must be positive and at most half the max staleness", ErrConfig))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("%w: batch size must be positive", ErrConfig))
	}
	return errors.Join(errs...)
}

func truncateID(id string) string {
	if len(id) > 80 {
		return id[:80] + "..."
	}
	return id
}
