package natsauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/revocast/revocast/events"
)

func TestMintRefuses(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		role   Role
		name   string
		realms []string
		want   error
	}{
		{Sidecar, "", nil, ErrInvalidName},
		{Sidecar, "a.b", nil, ErrInvalidName},
		{Sidecar, "a*", nil, ErrInvalidName},
		{Sidecar, ">", nil, ErrInvalidName},
		{Sidecar, "a b", nil, ErrInvalidName},
		{Sidecar, "{{name()}}", nil, ErrInvalidName},
		{Sidecar, strings.Repeat("a", 65), nil, ErrInvalidName},
		{Sidecar, "sc-1", []string{"A"}, ErrRealms},
		{Front, "front", []string{"A"}, ErrRealms},
		{Issuer, "idp", nil, ErrRealms},
		{Issuer, "idp", []string{""}, ErrRealms},
		{"admin", "x", nil, ErrUnknownRole},
	} {
		if _, err := tr.Mint(c.role, c.name, c.realms); !errors.Is(err, c.want) {
			t.Errorf("Mint(%s, %q, %q) = %v, want %v", c.role, c.name, c.realms, err, c.want)
		}
	}
}

// A minted user carries its name and realm tags and no permissions of its
// own: the server applies its role's template (scoped signing key).
func TestMintedUser(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := tr.Mint(Issuer, "idp-1", []string{"realm A", "Realm B"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(s)
	if err != nil {
		t.Fatal(err)
	}
	issuerKey, _ := tr.roles[Issuer].PublicKey()
	want := []string{RealmTag + events.RealmKey("Realm B"), RealmTag + events.RealmKey("realm A")}
	got := []string(uc.Tags)
	slices.Sort(got)
	slices.Sort(want)
	if uc.Name != "idp-1" || uc.Issuer != issuerKey || uc.IssuerAccount != tr.Account() ||
		!uc.HasEmptyPermissions() || !slices.Equal(got, want) || uc.Expires != 0 {
		t.Fatalf("claims: %+v", uc)
	}
}

// The largest realm list Mint accepts still fits a client's CONNECT line:
// that issuer connects and registers in its last realm.
func TestMintRealmLimitConnects(t *testing.T) {
	tr, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	var realms []string
	for {
		next := append(realms, fmt.Sprintf("realm number %d", len(realms)))
		if _, err := tr.Mint(Issuer, strings.Repeat("i", 64), next); err != nil {
			if !errors.Is(err, ErrRealms) {
				t.Fatal(err)
			}
			break
		}
		realms = next
	}
	t.Logf("one issuer's credentials carry up to %d realms", len(realms))
	if len(realms) < 40 {
		t.Fatalf("only %d realms fit", len(realms))
	}
	s := embedded(t, tr)
	op := dial(t, s, tr, Operator, "operator", InboxPrefix(Operator, ""))
	registrations, err := op.nc.SubscribeSync(RegistryPrefix + "*")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("i", 64)
	iss := dial(t, s, tr, Issuer, name, InboxPrefix(Issuer, name), realms...)
	last := RegistryPrefix + events.RealmKey(realms[len(realms)-1])
	if err := iss.nc.Publish(last, nil); err != nil {
		t.Fatal(err)
	}
	if m, err := registrations.NextMsg(5 * time.Second); err != nil || m.Subject != last {
		t.Fatalf("got %v, %v; want a registration on %s", m, err, last)
	}
}
