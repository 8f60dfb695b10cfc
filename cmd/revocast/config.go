package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
	"github.com/revocast/revocast/publisher/ssf"
)

// fileConfig is the --config YAML file: what flags cannot hold.
type fileConfig struct {
	Clients []struct {
		ID         string   `yaml:"id"`
		SecretHash string   `yaml:"secret_hash"`
		Allow      []string `yaml:"allow"`
		Realms     []string `yaml:"realms"`
	} `yaml:"clients"`
	Users []struct {
		Username     string   `yaml:"username"`
		PasswordHash string   `yaml:"password_hash"`
		Allow        []string `yaml:"allow"`
		Realms       []string `yaml:"realms"`
	} `yaml:"users"`
	APIKeys []struct {
		ID      string   `yaml:"id"`
		KeyHash string   `yaml:"key_hash"`
		Allow   []string `yaml:"allow"`
		Realms  []string `yaml:"realms"`
	} `yaml:"api_keys"`
	Realms []struct {
		Name    string   `yaml:"name"`
		Issuers []string `yaml:"issuers"`
		// UserClaim is the JWT claim that names the realm's users for
		// rules (sub when empty).
		UserClaim string `yaml:"user_claim"`
	} `yaml:"realms"`
	// Transmitters are identity providers whose signals (SETs, logout
	// tokens) the front accepts: publisher/ssf.
	Transmitters []ssf.TransmitterConfig `yaml:"transmitters"`

	Limits struct {
		MaxBody               string `yaml:"max_body"`
		AuthFailuresPerMinute int    `yaml:"auth_failures_per_minute"`
		AuthFailureBurst      int    `yaml:"auth_failure_burst"`
		// Realms holds quotas by realm name; "*" is the default for every
		// other realm.
		Realms map[string]struct {
			MaxLiveRevocations int64 `yaml:"max_live_revocations"`
		} `yaml:"realms"`
		// TrustedProxies are the peers whose X-Forwarded-For names the
		// client (CIDRs, or single addresses).
		TrustedProxies []string `yaml:"trusted_proxies"`
	} `yaml:"limits"`
}

// config is the validated configuration.
type config struct {
	auth           auth.Config
	issuerRealms   map[string]string
	userClaims     map[string]string // realm → the claim naming its users; absent: sub
	transmitters   []ssf.TransmitterConfig
	maxBody        int64 // 0: not set
	quotas         publisher.Quotas
	trustedProxies []netip.Prefix
}

// maxConfigSize bounds the file.
const maxConfigSize = 4 << 20

// loadConfig reads and validates the file at c.configPath ("" is an empty
// configuration) and merges --issuer-realm over its realms: the one
// issuer→realm map the front authorizes with and the sidecar enforces with.
// The realms' user claims (user_claim) are built here too, one map for the
// front's signal mapping and the sidecar's rule matching.
func loadConfig(c commonOpts) (*config, error) {
	cfg, err := readConfig(c.configPath)
	if err != nil {
		return nil, err
	}
	for iss, realm := range c.issuerRealms {
		cfg.issuerRealms[iss] = realm
	}
	return cfg, nil
}

func readConfig(path string) (*config, error) {
	if path == "" {
		return &config{issuerRealms: map[string]string{}, userClaims: map[string]string{}}, nil
	}
	// Opening a FIFO for reading blocks until a writer comes, and a read
	// from a device need never end: only a regular file is read.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("--config %s: not a regular file (%s): want a YAML file", path, st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("--config %s: larger than %d bytes", path, maxConfigSize)
	}
	c, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	return c, nil
}

// parseConfig parses and validates a configuration, reporting every problem
// at once. Unknown keys are errors (a misspelt key must not silently drop a
// restriction).
func parseConfig(b []byte) (*config, error) {
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not a valid configuration: %w", err)
	}
	c := &config{issuerRealms: map[string]string{}, userClaims: map[string]string{}, transmitters: fc.Transmitters}
	for _, cl := range fc.Clients {
		c.auth.Credentials = append(c.auth.Credentials, auth.Credential{Kind: auth.KindClient, ID: cl.ID,
			SecretHash: cl.SecretHash, Allow: cl.Allow, Realms: cl.Realms})
	}
	for _, u := range fc.Users {
		c.auth.Credentials = append(c.auth.Credentials, auth.Credential{Kind: auth.KindUser, ID: u.Username,
			SecretHash: u.PasswordHash, Allow: u.Allow, Realms: u.Realms})
	}
	for _, k := range fc.APIKeys {
		c.auth.Credentials = append(c.auth.Credentials, auth.Credential{Kind: auth.KindAPIKey, ID: k.ID,
			SecretHash: k.KeyHash, Allow: k.Allow, Realms: k.Realms})
	}
	c.auth.FailuresPerMinute = fc.Limits.AuthFailuresPerMinute
	c.auth.FailureBurst = fc.Limits.AuthFailureBurst
	errs := []error{c.auth.Validate()}
	names := map[string]bool{}
	for i, r := range fc.Realms {
		if r.Name == "" || len(r.Name) > 1024 || r.Name == auth.Any {
			errs = append(errs, fmt.Errorf("realm #%d: name must be 1 to 1024 characters and not %q", i+1, auth.Any))
		}
		if names[r.Name] {
			errs = append(errs, fmt.Errorf("realm %q is defined twice", r.Name))
		}
		names[r.Name] = true
		for _, iss := range r.Issuers {
			if iss == "" {
				errs = append(errs, fmt.Errorf("realm %q: an empty issuer", r.Name))
				continue
			}
			if other, dup := c.issuerRealms[iss]; dup && other != r.Name {
				errs = append(errs, fmt.Errorf("issuer %q belongs to realms %q and %q", iss, other, r.Name))
			}
			c.issuerRealms[iss] = r.Name
		}
		if err := validUserClaim(r.UserClaim); err != nil {
			errs = append(errs, fmt.Errorf("realm %q: user_claim: %w", r.Name, err))
		} else if r.UserClaim != "" && r.UserClaim != "sub" {
			c.userClaims[r.Name] = r.UserClaim
		}
	}
	if err := ssf.ValidateTransmitters(fc.Transmitters); err != nil {
		errs = append(errs, err)
	}
	if fc.Limits.MaxBody != "" {
		var bs byteSize
		if err := bs.Set(fc.Limits.MaxBody); err != nil {
			errs = append(errs, fmt.Errorf("limits.max_body: %w", err))
		} else if bs > 16<<20 {
			errs = append(errs, fmt.Errorf("limits.max_body: at most 16MiB"))
		}
		c.maxBody = int64(bs)
	}
	c.quotas.PerRealm = map[string]int64{}
	for name, q := range fc.Limits.Realms {
		switch {
		case q.MaxLiveRevocations < 1:
			errs = append(errs, fmt.Errorf("limits.realms.%s.max_live_revocations must be a positive number", name))
		case name == auth.Any:
			c.quotas.Default = q.MaxLiveRevocations
		case name == "" || len(name) > 1024:
			errs = append(errs, fmt.Errorf("limits.realms: a realm name must be 1 to 1024 characters"))
		default:
			c.quotas.PerRealm[name] = q.MaxLiveRevocations
		}
	}
	if fc.Limits.AuthFailuresPerMinute < 0 || fc.Limits.AuthFailureBurst < 0 {
		errs = append(errs, fmt.Errorf("limits: auth failure limits must not be negative"))
	}
	for _, p := range fc.Limits.TrustedProxies {
		prefix, err := parseProxy(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("limits.trusted_proxies: %w", err))
			continue
		}
		c.trustedProxies = append(c.trustedProxies, prefix)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%d problem(s):\n  %w", countLines(err), indent(err))
	}
	return c, nil
}

// validUserClaim checks a realm's user_claim: a claim name that can name a
// user ("" is sub).
func validUserClaim(name string) error {
	switch name {
	case "iss", "aud", "exp", "iat", "nbf", "jti", "sid", "azp", "client_id":
		return fmt.Errorf("%q names no user (use sub, preferred_username, email or another claim holding the user's name)", name)
	}
	if len(name) > 256 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("a claim name is 1 to 256 printable characters")
	}
	return nil
}

// parseProxy parses a trusted proxy: a CIDR without host bits (a typo
// such as 10.0.0.1/8 would trust a whole network), or one address. A
// prefix of length 0 would let anyone name their own address.
func parseProxy(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return p, fmt.Errorf("%q is neither an address nor a CIDR", s)
	case p.Masked() != p:
		return p, fmt.Errorf("%q has host bits set: %s, or %s/%d for one address", s, p.Masked(), p.Addr(), p.Addr().BitLen())
	case p.Bits() == 0:
		return p, fmt.Errorf("%q trusts every peer: anyone could choose the address their failures count against", s)
	}
	return p, nil
}

func countLines(err error) int { return strings.Count(err.Error(), "\n") + 1 }

type indented struct{ err error }

func (i indented) Error() string { return strings.ReplaceAll(i.err.Error(), "\n", "\n  ") }
func (i indented) Unwrap() error { return i.err }

func indent(err error) error { return indented{err} }
