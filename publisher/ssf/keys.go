package ssf

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"
)

// Bounds on a JWKS: its size, the keys used from it, how long a fetch may
// take.
const (
	maxJWKS      = 128 << 10
	maxKeys      = 100
	fetchTimeout = 5 * time.Second
	minRSABits   = 2048
)

// errNoKey: no configured key can have signed the token.
var errNoKey = errors.New("no key")

// keySet is one transmitter's signing keys: a fixed set read from a file,
// or a JWKS fetched from a URI, cached, and fetched again when it is older
// than maxAge or when a token names a kid it does not hold (at most once
// per minRefresh, so unknown kids cannot make revocast hammer the URI).
type keySet struct {
	uri        string // "" for a fixed set
	algs       []string
	client     *http.Client
	minRefresh time.Duration
	maxAge     time.Duration
	now        func() time.Time
	log        zerolog.Logger
	onFetch    func(err error)

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
	lastErr error
	// fetching is closed when the fetch under way ends (nil: none).
	fetching chan struct{}
}

// candidates returns the keys that may have signed a token with kid and
// alg (every fitting key when kid is empty). The lock is never held over a
// fetch: a token whose key is held is verified while a fetch runs (a slow
// jwks_uri, started by anyone's unknown kid, stalls no one else).
func (s *keySet) candidates(ctx context.Context, kid, alg string) ([]jose.JSONWebKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.uri != "" && (s.fetched.IsZero() || now.Sub(s.fetched) >= s.maxAge) {
		s.refreshLocked(ctx, now)
	}
	found := s.selectLocked(kid, alg)
	if len(found) == 0 && s.uri != "" && kid != "" {
		// A kid we do not hold: the transmitter may have rotated its keys.
		s.refreshLocked(ctx, now)
		found = s.selectLocked(kid, alg)
	}
	if len(found) == 0 {
		why := fmt.Sprintf("no %s key with kid %s in the transmitter's keys", alg, quote(kid))
		if s.uri != "" {
			if s.fetched.IsZero() {
				why += fmt.Sprintf(" (never fetched; tried again at most every %s)", s.minRefresh)
			} else {
				why += fmt.Sprintf(" (fetched %s ago; fetched again at most every %s)", now.Sub(s.fetched).Round(time.Second), s.minRefresh)
			}
			if s.lastErr != nil {
				// Said without its error: the logout route answers anyone,
				// and the error names the key server's addresses. The
				// front's log has it.
				why += "; the last fetch failed (the front's log says why)"
			}
		}
		return nil, fmt.Errorf("%w: %s", errNoKey, why)
	}
	return found, nil
}

// refreshLocked waits for the fetch under way, else starts one when the
// last attempt is minRefresh old; s.mu is released while it waits.
func (s *keySet) refreshLocked(ctx context.Context, now time.Time) {
	if s.fetching == nil {
		if now.Sub(s.tried) < s.minRefresh {
			return
		}
		s.tried = now
		done := make(chan struct{})
		s.fetching = done
		go s.fetchAndKeep(ctx, now, done)
	}
	done := s.fetching
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.mu.Lock()
}

// fetchAndKeep fetches the JWKS and keeps it; on failure the keys held
// are kept.
func (s *keySet) fetchAndKeep(ctx context.Context, now time.Time, done chan struct{}) {
	keys, err := s.fetch(ctx)
	if s.onFetch != nil {
		s.onFetch(err)
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("cannot fetch the transmitter's keys; keeping the keys held")
	}
	s.mu.Lock()
	if err != nil {
		s.lastErr = err
	} else {
		s.keys, s.fetched, s.lastErr = keys, now, nil
	}
	s.fetching = nil
	s.mu.Unlock()
	close(done)
}

// maxKidless bounds the keys tried for a token without a kid: the logout
// route is open to anyone, so the work a token can cause is bounded.
const maxKidless = 8

func (s *keySet) selectLocked(kid, alg string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for i := range s.keys {
		k := &s.keys[i]
		if (kid == "" || k.KeyID == kid) && keyFits(k, alg) {
			out = append(out, *k)
		}
		if kid == "" && len(out) == maxKidless {
			break
		}
	}
	return out
}

// fetch does not end with the request that started it: a caller who
// closes its connection would otherwise abort the fetch, which still
// counts as the attempt, and keep a rotated key unknown for minRefresh.
func (s *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.uri, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks_uri answered %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	if len(b) > maxJWKS {
		return nil, fmt.Errorf("jwks_uri: larger than %d bytes", maxJWKS)
	}
	return parseJWKS(b, s.algs)
}

// readKeyFile reads a JWKS file.
func readKeyFile(path string, algs []string) ([]jose.JSONWebKey, error) {
	b, err := readBounded(path, maxJWKS)
	if err != nil {
		return nil, err
	}
	return parseJWKS(b, algs)
}

// parseJWKS returns the usable signing keys of a JWKS: the public part of
// RSA (2048 bits or more), P-256 and Ed25519 keys that fit an accepted
// algorithm, not marked for encryption. Anything else (symmetric keys,
// other curves and types) is skipped; a set without one usable key is an
// error.
func parseJWKS(b []byte, algs []string) ([]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS: %w", err)
	}
	var out []jose.JSONWebKey
	for _, raw := range doc.Keys {
		if len(out) == maxKeys {
			break
		}
		var k jose.JSONWebKey
		if k.UnmarshalJSON(raw) != nil || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pub := k.Public()
		if !pub.Valid() {
			continue
		}
		if slices.ContainsFunc(algs, func(a string) bool { return keyFits(&pub, a) }) {
			out = append(out, pub)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no usable signing key (public RSA of %d bits or more, P-256 or Ed25519, for %v)", minRSABits, algs)
	}
	return out, nil
}

// keyFits reports whether k can verify alg.
func keyFits(k *jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == string(jose.RS256) && key.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256) && key.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}
