package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
)

// SEEN (R1): a realm-A registrant could register a realm-B token's hash
// first and so block B's issuer (the second registration was a conflict).
// The realm is part of a record's identity: both records exist, each
// realm reads its own, and first-registration-wins holds within a realm.
func TestRealmIsPartOfRecordIdentity(t *testing.T) {
	s := openStore(t)
	squat := rec("b-token", events.AccessToken, "realm-a", "mallory", "evil-app", "", time.Hour)
	mustRegister(t, s, squat)
	real := rec("b-token", events.RefreshToken, "realm-b", "bob", "app", "", 2*time.Hour)
	mustRegister(t, s, real)

	ctx := context.Background()
	for _, c := range []struct {
		realms []string
		want   []publisher.Record
	}{
		{[]string{"realm-b"}, []publisher.Record{real}},
		{[]string{"realm-a"}, []publisher.Record{squat}},
		{[]string{"realm-b", "realm-a", "realm-b"}, []publisher.Record{real, squat}},
		{[]string{"realm-c"}, nil},
		{nil, []publisher.Record{squat, real}}, // every realm, in registration order
	} {
		got, err := s.Lookup(ctx, real.Sum, c.realms)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("Lookup(%v) = %v, %v; want %v", c.realms, got, err, c.want)
		}
	}
	other := real
	other.Client = "another-app"
	if errs := s.Register(ctx, []publisher.Record{other}); !errors.Is(errs[0], ErrConflict) {
		t.Fatalf("a conflicting registration in the same realm: %v", errs[0])
	}
}

// A record written by a version before realm-scoped records (at
// t.<token>) is read until it expires, as its realm's record when that
// realm has none of its own.
func TestLegacyRecordsAreRead(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	old := rec("old-token", events.AccessToken, "realm-a", "alice", "app", "", time.Hour)
	if _, err := s.kv.Put(ctx, legacyRecordKey(old.Sum), []byte(`{"v":1,"token_sha256":"`+old.Sum.String()+
		`","type":"access_token","realm":"realm-a","user":"alice","client":"app","expires_at":"`+old.ExpiresAt.Format(time.RFC3339)+`"}`)); err != nil {
		t.Fatal(err)
	}
	for _, realms := range [][]string{{"realm-a"}, nil} {
		got, err := s.Lookup(ctx, old.Sum, realms)
		if err != nil || len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(old) {
			t.Fatalf("Lookup(%v) = %v, %v", realms, got, err)
		}
	}
	if got, err := s.Lookup(ctx, old.Sum, []string{"realm-b"}); err != nil || len(got) != 0 {
		t.Fatalf("another realm: %v, %v", got, err)
	}
	// registered again after the upgrade: the realm's own record wins
	again := old
	again.ExpiresAt = again.ExpiresAt.Add(time.Minute)
	mustRegister(t, s, again)
	for _, realms := range [][]string{{"realm-a"}, nil} {
		got, err := s.Lookup(ctx, old.Sum, realms)
		if err != nil || len(got) != 1 || !got[0].ExpiresAt.Equal(again.ExpiresAt) {
			t.Fatalf("Lookup(%v) after registering again = %v, %v", realms, got, err)
		}
	}
}

// A cross-realm lookup reads every record in one batched get: a deleted
// record is not one, and a token with more records than the batch returns
// (maxLookupRecords+1) is listed by a watch instead, in registration order.
func TestLookupEverywhereBatchedAndBeyond(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := rec("tok", events.AccessToken, "realm-a", "ann", "app", "", time.Hour)
	b := rec("tok", events.AccessToken, "realm-b", "bob", "app", "", time.Hour)
	mustRegister(t, s, a, b)
	if err := s.kv.Delete(ctx, recordKey(&a)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Lookup(ctx, a.Sum, nil); err != nil || fmt.Sprint(got) != fmt.Sprint([]publisher.Record{b}) {
		t.Fatalf("after deleting realm-a's record: %v, %v", got, err)
	}
	var many []publisher.Record
	for i := range maxLookupRecords + 6 {
		many = append(many, rec("popular", events.AccessToken, fmt.Sprint("realm-", i), "u", "app", "", time.Hour))
	}
	mustRegister(t, s, many...)
	got, err := s.Lookup(ctx, many[0].Sum, nil)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(many[:maxLookupRecords]) {
		t.Fatalf("a token in %d realms: %d records, %v; want the first %d", len(many), len(got), err, maxLookupRecords)
	}
}

// BenchmarkLookup compares a realm-scoped Lookup (one get, plus the legacy
// key's get when the realm has no record) with a cross-realm one (one
// batched direct get of every realm's record and the legacy key), on
// buckets of 10,000 and 100,000 other tokens, for a token registered in two
// realms.
func BenchmarkLookup(b *testing.B) {
	ns := natstest.Start(b)
	s, err := ensureOpen(natstest.Connect(b, ns), StoreOptions{Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	ctx := context.Background()
	total := 0
	for _, size := range []int{10_000, 100_000} {
		var recs []publisher.Record
		for ; total < size; total++ {
			recs = append(recs, rec(fmt.Sprint("bench-", total), events.AccessToken, "realm-a", fmt.Sprint("u", total%100), "app", "", time.Hour))
		}
		tok := fmt.Sprint("two-realms-", size)
		recs = append(recs, rec(tok, events.AccessToken, "realm-a", "bob", "app", "", time.Hour),
			rec(tok, events.AccessToken, "realm-b", "bob", "app", "", time.Hour))
		mustRegister(b, s, recs...)
		sum := events.TokenKey(tok)
		for _, c := range []struct {
			name   string
			realms []string
		}{{"realm", []string{"realm-b"}}, {"every-realm", nil}, {"unknown-realm", []string{"realm-c"}}} {
			b.Run(fmt.Sprintf("tokens=%d/%s", size, c.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := s.Lookup(ctx, sum, c.realms); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
