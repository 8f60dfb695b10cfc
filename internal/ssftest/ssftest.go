package ssftest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Event types.
const (
	SessionRevoked       = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	CredentialChange     = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	TokenClaimsChange    = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
	AccountDisabled      = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
	AccountPurged        = "https://schemas.openid.net/secevent/risc/event-type/account-purged"
	CredentialCompromise = "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
	SessionsRevoked      = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"
	Verification         = "https://schemas.openid.net/secevent/ssf/event-type/verification"
	BackchannelLogout    = "http://schemas.openid.net/event/backchannel-logout"
)

// Key is a signing key and its published JWK.
type Key struct {
	ID     string
	Alg    jose.SignatureAlgorithm
	signer crypto.Signer
}

// NewKey makes a fresh key for alg (RS256, ES256 or EdDSA).
func NewKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) Key {
	t.Helper()
	var s crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("ssftest: no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return Key{ID: kid, Alg: alg, signer: s}
}

// JWK is the key's public JWK.
func (k Key) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"}
}

// Transmitter is a test identity provider.
type Transmitter struct {
	t        testing.TB
	Issuer   string
	Audience string
	// PollToken is the bearer token its poll endpoint requires.
	PollToken string

	mu        sync.Mutex
	signing   Key
	published []Key
	n         int
	jwks      *httptest.Server
	jwksHits  int
	poll      *httptest.Server
	queue     map[string]string // jti → SET, not yet acknowledged
	arrived   chan struct{}
	acked     map[string]int
	setErrs   map[string]json.RawMessage
	requests  []PollRequest
}

// PollRequest is what a receiver sent to the poll endpoint.
type PollRequest struct {
	Ack               []string                   `json:"ack"`
	SetErrs           map[string]json.RawMessage `json:"setErrs"`
	MaxEvents         *int                       `json:"maxEvents"`
	ReturnImmediately *bool                      `json:"returnImmediately"`
}

// New starts a transmitter signing with one ES256 key, "k1", which its
// JWKS publishes.
func New(t testing.TB, issuer, audience string) *Transmitter {
	t.Helper()
	tr := &Transmitter{t: t, Issuer: issuer, Audience: audience, PollToken: "poll-" + rand.Text(),
		queue: map[string]string{}, arrived: make(chan struct{}, 1), acked: map[string]int{}, setErrs: map[string]json.RawMessage{}}
	tr.signing = NewKey(t, "k1", jose.ES256)
	tr.published = []Key{tr.signing}
	tr.jwks = httptest.NewServer(http.HandlerFunc(tr.serveJWKS))
	t.Cleanup(tr.jwks.Close)
	tr.poll = httptest.NewServer(http.HandlerFunc(tr.servePoll))
	t.Cleanup(tr.poll.Close)
	return tr
}

// JWKSURL is where its JWKS is served.
func (tr *Transmitter) JWKSURL() string { return tr.jwks.URL + "/jwks" }

// PollURL is its RFC 8936 poll endpoint.
func (tr *Transmitter) PollURL() string { return tr.poll.URL + "/poll" }

// JWKSFetches counts the fetches of its JWKS.
func (tr *Transmitter) JWKSFetches() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.jwksHits
}

// JWKS returns the JWKS document it publishes.
func (tr *Transmitter) JWKS() []byte {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range tr.published {
		set.Keys = append(set.Keys, k.JWK())
	}
	b, err := json.Marshal(set)
	if err != nil {
		tr.t.Fatal(err)
	}
	return b
}

func (tr *Transmitter) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	b := tr.JWKS()
	tr.mu.Lock()
	tr.jwksHits++
	tr.mu.Unlock()
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(b)
}

// Rotate signs from now on with k; publish says whether its JWKS lists k
// (beside the keys it listed).
func (tr *Transmitter) Rotate(k Key, publish bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.signing = k
	if publish {
		tr.published = append(tr.published, k)
	}
}

// Publish adds k to the JWKS.
func (tr *Transmitter) Publish(k Key) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.published = append(tr.published, k)
}

// Claims are a token's claims.
type Claims = map[string]any

// NextJTI returns a fresh jti.
func (tr *Transmitter) NextJTI() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.n++
	return fmt.Sprintf("set-%d-%s", tr.n, rand.Text()[:8])
}

// SET returns a SET of one event about subject (sub_id), issued now,
// with a fresh jti; edit changes its claims before signing.
func (tr *Transmitter) SET(event string, payload map[string]any, subject map[string]any, edit ...func(Claims)) (jti, token string) {
	if payload == nil {
		payload = map[string]any{}
	}
	c := Claims{"iss": tr.Issuer, "aud": tr.Audience, "iat": time.Now().Unix(), "jti": tr.NextJTI(),
		"events": map[string]any{event: payload}}
	if subject != nil {
		c["sub_id"] = subject
	}
	for _, f := range edit {
		f(c)
	}
	return fmt.Sprint(c["jti"]), tr.Sign(c, "secevent+jwt")
}

// LogoutToken returns a back-channel logout token for aud naming sid
// and/or sub (either may be ""), issued now, with a fresh jti.
func (tr *Transmitter) LogoutToken(aud, sid, sub string, edit ...func(Claims)) string {
	c := Claims{"iss": tr.Issuer, "aud": aud, "iat": time.Now().Unix(), "exp": time.Now().Add(2 * time.Minute).Unix(),
		"jti": tr.NextJTI(), "events": map[string]any{BackchannelLogout: map[string]any{}}}
	if sid != "" {
		c["sid"] = sid
	}
	if sub != "" {
		c["sub"] = sub
	}
	for _, f := range edit {
		f(c)
	}
	return tr.Sign(c, "logout+jwt")
}

// Sign signs claims with the current key, with typ (none when "").
func (tr *Transmitter) Sign(c Claims, typ string) string {
	tr.mu.Lock()
	k := tr.signing
	tr.mu.Unlock()
	return SignWith(tr.t, k, c, typ)
}

// SignWith signs claims with k.
func SignWith(t testing.TB, k Key, c Claims, typ string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), k.ID)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.signer}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Enqueue makes SETs available to the poll endpoint.
func (tr *Transmitter) Enqueue(sets ...string) {
	tr.mu.Lock()
	for _, s := range sets {
		var c struct {
			Jti string `json:"jti"`
		}
		parts := strings.Split(s, ".")
		if len(parts) == 3 {
			b, _ := jose.ParseSignedCompact(s, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA, jose.HS256})
			if b != nil {
				_ = json.Unmarshal(b.UnsafePayloadWithoutVerification(), &c)
			}
		}
		if c.Jti == "" {
			c.Jti = "unreadable-" + rand.Text()[:8]
		}
		tr.queue[c.Jti] = s
	}
	tr.mu.Unlock()
	select {
	case tr.arrived <- struct{}{}:
	default:
	}
}

// EnqueueAs makes set available under the key jti (which may differ from
// its own jti).
func (tr *Transmitter) EnqueueAs(jti, set string) {
	tr.mu.Lock()
	tr.queue[jti] = set
	tr.mu.Unlock()
	select {
	case tr.arrived <- struct{}{}:
	default:
	}
}

// Acked returns how many times each jti was acknowledged.
func (tr *Transmitter) Acked() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]int{}
	for k, v := range tr.acked {
		out[k] = v
	}
	return out
}

// SetErrs returns the errors the receiver reported, by jti.
func (tr *Transmitter) SetErrs() map[string]string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]string{}
	for k, v := range tr.setErrs {
		out[k] = string(v)
	}
	return out
}

// Pending lists the jtis delivered or waiting but not acknowledged.
func (tr *Transmitter) Pending() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	for k := range tr.queue {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Requests returns the poll requests received.
func (tr *Transmitter) Requests() []PollRequest {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]PollRequest(nil), tr.requests...)
}

// servePoll is RFC 8936: acknowledgements and errors first, then up to
// maxEvents SETs not yet acknowledged; with returnImmediately false it
// holds the request (up to 2 s here) until one is available.
func (tr *Transmitter) servePoll(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+tr.PollToken {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"err":"authentication_failed","description":"bad token"}`))
		return
	}
	var req PollRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MaxEvents == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"err":"invalid_request","description":"not a poll request"}`))
		return
	}
	tr.mu.Lock()
	tr.requests = append(tr.requests, req)
	for _, j := range req.Ack {
		tr.acked[j]++
		delete(tr.queue, j)
	}
	for j, e := range req.SetErrs {
		tr.setErrs[j] = e
		delete(tr.queue, j)
	}
	empty := len(tr.queue) == 0
	tr.mu.Unlock()
	if empty && req.ReturnImmediately != nil && !*req.ReturnImmediately {
		select {
		case <-tr.arrived:
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}
	tr.mu.Lock()
	sets := map[string]string{}
	var keys []string
	for k := range tr.queue {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(sets) == *req.MaxEvents {
			break
		}
		sets[k] = tr.queue[k]
	}
	more := len(tr.queue) > len(sets)
	tr.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"sets": sets, "moreAvailable": more})
}
