package publisher

import (
	"context"
	"errors"
	"time"

	"github.com/revocast/revocast/events"
)

// ErrWrongClient: the token is registered to another client than the one
// asking (OneLogin, RFC 7009). Nothing is revoked.
var ErrWrongClient = errors.New("the token was issued to another client")

// Record is what the token registry knows of one issued token.
type Record struct {
	Sum       events.Sum
	Type      string // events.AccessToken or events.RefreshToken
	Realm     string
	User      string
	Client    string
	Parent    events.Sum // the refresh token an access token came from; zero if none
	ExpiresAt time.Time
	// JTI: Sum is events.JTIKey of the JWT's iss and jti (an identity
	// provider that never shows revocast the token), so revoking it takes a
	// JWT ID revocation, not a token revocation.
	JTI bool
}

// Scope selects registered tokens: a realm, a user (in Realm, or in every
// realm when Realm is empty), optionally a client (a user's consent).
type Scope struct {
	Realm  string
	User   string
	Client string
}

// Registry is what the core needs of the token registry.
type Registry interface {
	// Lookup returns the live records of a token. The realm is part of a
	// record's identity: a token may have one record in each realm. With
	// realms it reads only those realms' records (one direct read each: the
	// fast path); with none it returns the token's records in every realm
	// (a listing, dearer). None when the token is unknown or expired.
	Lookup(ctx context.Context, sum events.Sum, realms []string) ([]Record, error)
	// Find returns every live registered token of a scope.
	Find(ctx context.Context, s Scope) ([]Record, error)
}

// RegistryMode says what an unknown token means.
type RegistryMode string

// Modes.
const (
	// Advisory: a token the registry does not know is still revoked.
	Advisory RegistryMode = "advisory"
	// Authoritative: a token the registry does not know is not found.
	Authoritative RegistryMode = "authoritative"
)

// children returns the live access tokens created from the refresh token
// rec. They share its grant, so they are found in its consent scope.
func children(ctx context.Context, reg Registry, rec *Record) ([]Record, error) {
	all, err := reg.Find(ctx, Scope{Realm: rec.Realm, User: rec.User, Client: rec.Client})
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, r := range all {
		if r.Parent == rec.Sum && r.Sum != rec.Sum {
			out = append(out, r)
		}
	}
	return out, nil
}
