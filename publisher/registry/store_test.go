package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
)

func openStore(t testing.TB) *Store {
	t.Helper()
	ns := natstest.Start(t)
	s, err := ensureOpen(natstest.Connect(t, ns), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func rec(tok, typ, realm, user, client string, parent string, ttl time.Duration) publisher.Record {
	r := publisher.Record{Sum: events.TokenKey(tok), Type: typ, Realm: realm, User: user, Client: client,
		ExpiresAt: time.Now().Add(ttl).UTC().Truncate(time.Second)}
	if parent != "" {
		r.Parent = events.TokenKey(parent)
	}
	return r
}

// lookupOne returns a token's first record in realms (every realm when none).
func lookupOne(s *Store, sum events.Sum, realms ...string) (*publisher.Record, error) {
	recs, err := s.Lookup(context.Background(), sum, realms)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return &recs[0], nil
}

func mustRegister(t testing.TB, s *Store, recs ...publisher.Record) {
	t.Helper()
	for i, err := range s.Register(context.Background(), recs) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

func TestRegisterLookupFind(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	mustRegister(t, s,
		rec("r1", events.RefreshToken, "saml1", "alice", "app", "", time.Hour),
		rec("a1", events.AccessToken, "saml1", "alice", "app", "r1", time.Hour),
		rec("a2", events.AccessToken, "saml1", "alice", "other-app", "", time.Hour),
		rec("b1", events.AccessToken, "saml1", "bob", "app", "", time.Hour),
		rec("c1", events.AccessToken, "oidc", "alice", "app", "", time.Hour),
	)
	got, err := lookupOne(s, events.TokenKey("a1"))
	if err != nil || got == nil || got.Parent != events.TokenKey("r1") || got.User != "alice" {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	if got, err := lookupOne(s, events.TokenKey("unknown")); got != nil || err != nil {
		t.Fatalf("unknown token: %+v %v", got, err)
	}
	for _, c := range []struct {
		scope publisher.Scope
		want  int
	}{
		{publisher.Scope{Realm: "saml1"}, 4},
		{publisher.Scope{Realm: "saml1", User: "alice"}, 3},
		{publisher.Scope{User: "alice"}, 4},
		{publisher.Scope{Realm: "saml1", User: "alice", Client: "app"}, 2},
		{publisher.Scope{Realm: "nowhere"}, 0},
	} {
		found, err := s.Find(ctx, c.scope)
		if err != nil || len(found) != c.want {
			t.Errorf("Find(%+v) = %d records, %v; want %d", c.scope, len(found), err, c.want)
		}
	}
}

func TestRegisterIsIdempotentAndRefusesConflicts(t *testing.T) {
	s := openStore(t)
	r := rec("tok", events.AccessToken, "saml1", "alice", "app", "", time.Hour)
	mustRegister(t, s, r)
	mustRegister(t, s, r) // the same again: fine
	other := r
	other.Client = "evil-app"
	errs := s.Register(context.Background(), []publisher.Record{other})
	if !errors.Is(errs[0], ErrConflict) {
		t.Fatalf("conflicting registration: %v", errs[0])
	}
	got, _ := lookupOne(s, r.Sum)
	if got.Client != "app" {
		t.Fatal("a conflicting registration overwrote the record")
	}
	found, _ := s.Find(context.Background(), publisher.Scope{Realm: "saml1", User: "alice", Client: "evil-app"})
	if len(found) != 0 {
		t.Fatal("a conflicting registration wrote an index entry")
	}
}

func TestEntriesDisappearAtExpiry(t *testing.T) {
	s := openStore(t)
	mustRegister(t, s, rec("short", events.AccessToken, "saml1", "alice", "app", "", 2*time.Second))
	if got, _ := lookupOne(s, events.TokenKey("short")); got == nil {
		t.Fatal("not registered")
	}
	natstest.Eventually(t, 15*time.Second, "the entry to expire", func() bool {
		got, err := lookupOne(s, events.TokenKey("short"))
		found, err2 := s.Find(context.Background(), publisher.Scope{Realm: "saml1"})
		return err == nil && err2 == nil && got == nil && len(found) == 0
	})
	// and the token can be registered again afterwards
	mustRegister(t, s, rec("short", events.AccessToken, "saml1", "alice", "app", "", time.Hour))
}

// A JWT ID record (iss and jti instead of the token) is keyed by JTIKey and
// says so in its record and its index entry; entries written before the
// field existed read as token records.
func TestJTIRecords(t *testing.T) {
	s := openStore(t)
	h := NewHandler(s, Options{Auth: testAuth, MaxTokenLifetime: 24 * time.Hour})
	if code, res, raw := post(t, h, "application/x-ndjson", jtiLine("https://idp.example", "id-1", "")+"\n"+line("plain", ""), basic("issuer")); code != 200 || res.Registered != 2 {
		t.Fatalf("%d %s", code, raw)
	}
	got, err := lookupOne(s, events.JTIKey("https://idp.example", "id-1"), "saml1")
	if err != nil || got == nil || !got.JTI {
		t.Fatalf("the JWT ID record: %+v %v", got, err)
	}
	if got, _ := lookupOne(s, events.TokenKey("plain")); got == nil || got.JTI {
		t.Fatalf("a token record: %+v", got)
	}
	found, err := s.Find(context.Background(), publisher.Scope{Realm: "saml1", User: "alice"})
	jti := 0
	for _, r := range found {
		if r.JTI {
			jti++
		}
	}
	if err != nil || len(found) != 2 || jti != 1 {
		t.Fatalf("Find: %+v %v", found, err)
	}
	sum := events.TokenKey("old").String()
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	old, err := decode([]byte(`{"v":1,"token_sha256":"` + sum + `","type":"access_token","realm":"r","user":"u","client":"c","expires_at":"` + exp + `"}`))
	if err != nil || old.JTI {
		t.Fatalf("an old record: %+v %v", old, err)
	}
	batch, err := decodeBatch([]byte(`{"v":1,"realm":"r","user":"u","client":"c","records":[{"t":"` + sum + `","k":"access_token","e":"` + exp + `"}]}`))
	if err != nil || len(batch) != 1 || batch[0].JTI {
		t.Fatalf("an old index entry: %+v %v", batch, err)
	}
}

// ensureOpen creates the bucket (as the operator would) and opens the store.
func ensureOpen(nc *nats.Conn, o StoreOptions) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if err := EnsureBucket(context.Background(), js, o); err != nil {
		return nil, err
	}
	return Open(context.Background(), nc, o)
}
