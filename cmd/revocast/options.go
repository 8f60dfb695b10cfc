package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsconn"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/registry"
	"github.com/revocast/revocast/subscriber"
)

// commonOpts are shared by every command.
type commonOpts struct {
	configPath string
	natsURL    string
	logFormat  string
	logLevel   string
	stream     string
	replicas   int
	lifetime   time.Duration
	// issuerRealms from --issuer-realm; merged over the config file's realms
	// once (loadConfig), and that one map goes to the front and the sidecar.
	issuerRealms kvList
	// natsAuth: credentials and TLS for --nats-url (the password is read
	// from REVOCAST_NATS_PASSWORD only, never a flag).
	natsAuth natsconn.Auth
	// pprofAddr serves Go's profiler (off when empty).
	pprofAddr string
}

func (o *commonOpts) register(fs *flag.FlagSet, withNATSURL bool) {
	if withNATSURL {
		fs.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated for a cluster")
		registerNATSAuth(fs, &o.natsAuth)
	}
	fs.StringVar(&o.configPath, "config", "", "YAML file with principals (hashed secrets), realms and limits; see README")
	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.stream, "stream", events.DefaultStreamName, "name of the JetStream revocation stream")
	fs.IntVar(&o.replicas, "replicas", 1, "stream replicas (3 in a production cluster)")
	fs.DurationVar(&o.lifetime, "max-token-lifetime", publisher.DefaultMaxTokenLifetime,
		"longest lifetime of any token: bounds revocations whose expiry is unknown and issued-before rules")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty)")
	fs.Var(&o.issuerRealms, "issuer-realm", "map a JWT issuer to a realm name, ISSUER=REALM (repeatable or comma-separated); over the config file's realms")
}

func (o *commonOpts) validate() error {
	var errs []error
	if o.logFormat != "json" && o.logFormat != "console" {
		errs = append(errs, fmt.Errorf("--log-format must be json or console, got %q", o.logFormat))
	}
	if o.replicas < 1 || o.replicas > 5 {
		errs = append(errs, fmt.Errorf("--replicas must be 1 to 5, got %d", o.replicas))
	}
	if o.lifetime < time.Second {
		errs = append(errs, fmt.Errorf("--max-token-lifetime must be at least 1s, got %s", o.lifetime))
	}
	if err := events.ValidID(o.stream); err != nil {
		errs = append(errs, fmt.Errorf("--stream: %w", err))
	}
	errs = append(errs, o.natsAuth.Validate())
	return errors.Join(errs...)
}

func (o *commonOpts) streamOptions(dedup time.Duration) events.StreamOptions {
	return events.StreamOptions{Name: o.stream, Replicas: o.replicas, DuplicateWindow: dedup}
}

// DefaultPublishTimeout outlasts a JetStream leader failover in a 3-node
// cluster (measured 4.2 to 5.7 s): one node failing answers no 503.
const DefaultPublishTimeout = 10 * time.Second

// pubOpts configure the HTTP front.
type pubOpts struct {
	addr               string
	publishTimeout     time.Duration
	propagationTimeout time.Duration
	presenceTimeout    time.Duration
	dedupWindow        time.Duration
	maxBody            byteSize
	maxBodySet         bool // given as a flag or environment variable: wins over the config file
	registry           string
	maxRegistryBody    byteSize
	maxSidecars        int
	manageStreams      bool
	operatorCreds      string
	maxRegistryLines   int
}

func (o *pubOpts) register(fs *flag.FlagSet) {
	o.maxBody = publisher.DefaultMaxBody
	fs.StringVar(&o.addr, "publisher-addr", "127.0.0.1:8080", "address the HTTP front listens on (port 0: any free port)")
	fs.DurationVar(&o.publishTimeout, "publish-timeout", DefaultPublishTimeout,
		"how long a revocation is retried before the request fails (longer than a NATS leader failover)")
	fs.DurationVar(&o.propagationTimeout, "propagation-timeout", publisher.DefaultPropagationTimeout,
		"how long a request waits for the live sidecars' confirmations (0: do not wait)")
	fs.DurationVar(&o.presenceTimeout, "presence-timeout", 5*time.Second, "a sidecar silent for this long is no longer waited for")
	fs.BoolVar(&o.manageStreams, "manage-streams", false,
		"create, update and re-create the streams and the registry bucket (needs the operator's NATS identity); else they must exist (revocast init)")
	fs.StringVar(&o.operatorCreds, "operator-creds", "",
		"with --manage-streams: the operator's NATS credentials, used on a connection of their own for stream administration only")
	fs.IntVar(&o.maxSidecars, "max-sidecars", publisher.DefaultMaxSidecars, "most sidecars the front tracks; more are ignored and counted")
	fs.DurationVar(&o.dedupWindow, "dedup-window", events.DefaultDuplicateWindow, "JetStream duplicate window for retried publishes")
	fs.Var(&o.maxBody, "max-body", "largest request body accepted (e.g. 65536 or 64KiB)")
	o.maxRegistryBody = registry.DefaultMaxBody
	fs.StringVar(&o.registry, "registry", string(publisher.Advisory),
		"advisory: a token the registry does not know is still revoked; authoritative: it is not found")
	fs.Var(&o.maxRegistryBody, "max-registry-body", "largest POST /v1/tokens body (e.g. 64MiB)")
	fs.IntVar(&o.maxRegistryLines, "max-registry-lines", registry.DefaultMaxLines,
		"most lines in one POST /v1/tokens body or registry bus request; the rest is not read")
}

// noteExplicit records which flags were given, after parsing.
func (o *pubOpts) noteExplicit(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "max-body" {
			o.maxBodySet = true
		}
	})
}

func (o *pubOpts) validate() error {
	_, modeErr := registryMode(o.registry)
	if o.operatorCreds != "" && !o.manageStreams {
		modeErr = errors.Join(modeErr, errors.New("--operator-creds is for --manage-streams"))
	}
	var linesErr error
	if o.maxRegistryLines < 1 {
		linesErr = fmt.Errorf("--max-registry-lines must be positive, got %d", o.maxRegistryLines)
	}
	return errors.Join(modeErr, linesErr,
		positiveDuration("publish-timeout", o.publishTimeout, false),
		positiveDuration("propagation-timeout", o.propagationTimeout, true),
		positiveDuration("presence-timeout", o.presenceTimeout, false),
		positiveDuration("dedup-window", o.dedupWindow, false),
	)
}

// subOpts configure the sidecar.
type subOpts struct {
	id           string
	addr         string
	capacity     int64
	maxStaleness time.Duration
	stalePolicy  string
	heartbeat    time.Duration
}

func (o *subOpts) register(fs *flag.FlagSet, defaultID string) {
	fs.StringVar(&o.id, "id", defaultID, "this sidecar's name in outcomes and error_details (unique, e.g. the pod name)")
	fs.StringVar(&o.addr, "subscriber-addr", "127.0.0.1:8081", "address the sidecar's HTTP API listens on (port 0: any free port)")
	fs.Int64Var(&o.capacity, "cache-capacity", cache.DefaultCapacity, "live revocations the deny-cache holds (about 200 bytes each)")
	fs.DurationVar(&o.maxStaleness, "max-staleness", subscriber.DefaultMaxStaleness,
		"how long the sidecar may go without confirming it is caught up before --stale-policy applies")
	fs.StringVar(&o.stalePolicy, "stale-policy", string(subscriber.PolicyDeny), "when stale or unhealthy: deny (503) or allow")
	fs.DurationVar(&o.heartbeat, "heartbeat-interval", subscriber.DefaultHeartbeatInterval, "presence heartbeat and catch-up check interval")
}

// config returns the sidecar's configuration, with the issuer→realm map
// the front uses too.
func (o *subOpts) config(stream string, lifetime time.Duration, issuerRealms map[string]string) subscriber.Config {
	return subscriber.Config{ID: o.id, Stream: stream, MaxStaleness: o.maxStaleness,
		StalePolicy: subscriber.StalePolicy(o.stalePolicy), HeartbeatInterval: o.heartbeat, IssuerRealms: issuerRealms,
		MaxTokenLifetime: lifetime}
}

func (o *subOpts) validate(stream string) error {
	c := o.config(stream, 0, nil)
	errs := []error{c.Validate()}
	if o.capacity < 1 || o.capacity > cache.MaxCapacity {
		errs = append(errs, fmt.Errorf("--cache-capacity must be 1 to %d live revocations, got %d", cache.MaxCapacity, o.capacity))
	}
	return errors.Join(errs...)
}

// natsPasswordEnv holds the --nats-user password: the environment only, so
// it stays off command lines.
const natsPasswordEnv = "REVOCAST_NATS_PASSWORD"

// registerNATSAuth adds the NATS credential and TLS flags.
func registerNATSAuth(fs *flag.FlagSet, a *natsconn.Auth) {
	fs.StringVar(&a.CredsFile, "nats-creds", "", "NATS credentials file (a user JWT and its seed, see revocast nats-creds)")
	fs.StringVar(&a.NkeyFile, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&a.User, "nats-user", "", "NATS user name; the password comes from REVOCAST_NATS_PASSWORD only")
	fs.StringVar(&a.TLSCA, "nats-tls-ca", "", "PEM CA(s) the NATS servers' certificates must chain to")
	fs.StringVar(&a.TLSCert, "nats-tls-cert", "", "client certificate for NATS mutual TLS (with --nats-tls-key)")
	fs.StringVar(&a.TLSKey, "nats-tls-key", "", "client key for NATS mutual TLS")
}
