package publisher

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher/auth"
)

// eventsOf decodes the stored events.
func eventsOf(t testing.TB, st *memStore) []events.Event {
	t.Helper()
	var out []events.Event
	for _, e := range st.appended {
		ev, err := events.Decode(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// memStore is a Store double: it remembers subjects and can fail entries.
type memStore struct {
	mu       sync.Mutex
	subjects map[string]bool
	appended []Entry
	fail     func(Entry) bool
}

func (m *memStore) Append(_ context.Context, entries []Entry) []Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subjects == nil {
		m.subjects = map[string]bool{}
	}
	out := make([]Outcome, len(entries))
	for i, e := range entries {
		switch {
		case m.fail != nil && m.fail(e):
			out[i] = Outcome{Status: Failed, Err: fmt.Errorf("%w: test failure", ErrUnavailable)}
		case e.OnlyIfAbsent && m.subjects[e.Subject]:
			out[i] = Outcome{Status: AlreadyPresent}
		default:
			m.subjects[e.Subject] = true
			if len(e.Data) > 0 { // an event, not a ledger mark
				m.appended = append(m.appended, e)
			}
			out[i] = Outcome{Status: Stored}
		}
	}
	return out
}

func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

func refOf(tok string) *TokenRef { r := RefFromToken(tok); return &r }

func newCore(st Store) *Core {
	return NewCore(Config{IssuerRealms: map[string]string{"https://idp.example.com": "saml1"}}, st, nil, zerolog.Nop(), nil)
}

func TestAuthorization(t *testing.T) {
	restricted := auth.NewPrincipal(auth.KindClient, "r", []string{"oam", "elasticsearch"}, []string{"saml1", "DemoDomain"})
	oamOnly := auth.NewPrincipal(auth.KindClient, "o", []string{"oam"}, []string{"*"})
	mapped := jwt(`{"iss":"https://idp.example.com","sub":"alice","azp":"app","exp":4102444800}`)
	unmapped := jwt(`{"iss":"https://other.example.com","sub":"alice"}`)
	cases := []struct {
		name  string
		req   Request
		allow bool
	}{
		{"format not allowed", Request{Op: auth.OpRFC7009, Principal: oamOnly, Token: refOf("x")}, false},
		{"format allowed, every realm", Request{Op: auth.OpOAM, Principal: oamOnly, Token: refOf("x")}, true},
		{"no principal", Request{Op: auth.OpOAM, Token: refOf("x")}, false},
		{"realm in scope", Request{Op: auth.OpElasticsearch, Principal: restricted, Realm: "saml1"}, true},
		{"realm out of scope", Request{Op: auth.OpElasticsearch, Principal: restricted, Realm: "saml2"}, false},
		{"user in every realm needs every realm", Request{Op: auth.OpElasticsearch, Principal: restricted, User: "bob"}, false},
		{"user in an allowed realm", Request{Op: auth.OpElasticsearch, Principal: restricted, User: "bob", Realm: "saml1"}, true},
		{"opaque token of unknown realm", Request{Op: auth.OpElasticsearch, Principal: restricted, Token: refOf("opaque")}, false},
		{"JWT of a mapped issuer in scope", Request{Op: auth.OpElasticsearch, Principal: restricted, Token: refOf(mapped)}, true},
		{"JWT of an unmapped issuer", Request{Op: auth.OpElasticsearch, Principal: restricted, Token: refOf(unmapped)}, false},
		{"OAM identity domain in scope", Request{Op: auth.OpOAM, Principal: restricted, Token: refOf("opaque"), Realm: "DemoDomain"}, true},
		{"OAM identity domain out of scope", Request{Op: auth.OpOAM, Principal: restricted, Token: refOf("opaque"), Realm: "Other"}, false},
		{"OAM domain in scope but the JWT's realm is not", Request{Op: auth.OpOAM, Principal: auth.NewPrincipal(auth.KindClient, "d", []string{"oam"}, []string{"DemoDomain"}), Token: refOf(mapped), Realm: "DemoDomain"}, false},
	}
	for _, c := range cases {
		st := &memStore{}
		_, err := newCore(st).Revoke(context.Background(), c.req)
		if c.allow && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.allow {
			var fe *ForbiddenError
			if !errors.As(err, &fe) || !errors.Is(err, ErrForbidden) {
				t.Errorf("%s: allowed (err %v)", c.name, err)
			}
			if len(st.appended) != 0 {
				t.Errorf("%s: a refused request stored %d events", c.name, len(st.appended))
			}
		}
	}
}

func TestPlanJWTExpiryAndConsentRule(t *testing.T) {
	st := &memStore{}
	su := auth.Superuser(auth.KindClient, "admin")
	exp := time.Now().Add(2 * time.Hour).Unix()
	tok := jwt(fmt.Sprintf(`{"iss":"https://idp.example.com","sub":"alice","azp":"app","exp":%d}`, exp))
	res, err := newCore(st).Revoke(context.Background(), Request{Op: auth.OpOAM, Principal: su, Token: refOf(tok),
		Chaining: ChainRelatedConsent, TokenType: events.AccessToken})
	if err != nil || res.Invalidated != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if len(st.appended) != 2 {
		t.Fatalf("appended %d events, want the token and a consent rule", len(st.appended))
	}
	evs := eventsOf(t, st)
	ev := evs[0]
	if want := time.Unix(exp, 0).Add(ExpiryLeeway); !ev.ExpiresAt.Equal(want) || ev.Realm != "saml1" || ev.User != "alice" {
		t.Errorf("token event %+v", ev)
	}
	rule := evs[1]
	if rule.Kind != events.KindRule || rule.Rule() != (events.Rule{Scope: events.ScopeConsent, Realm: "saml1", User: "alice", Client: "app"}) {
		t.Errorf("rule %+v", rule)
	}
	opaque, _ := newCore(st).Revoke(context.Background(), Request{Op: auth.OpOAM, Principal: su, Token: refOf("opaque")})
	if opaque.Invalidated != 1 {
		t.Fatal(opaque)
	}
	all := eventsOf(t, st)
	last := all[len(all)-1]
	if d := time.Until(last.ExpiresAt); d < DefaultMaxTokenLifetime-time.Minute || d > DefaultMaxTokenLifetime {
		t.Errorf("opaque token kept for %v, want --max-token-lifetime", d)
	}
}

func TestAliasesAreRevokedButNotCounted(t *testing.T) {
	st := &memStore{}
	su := auth.Superuser(auth.KindClient, "admin")
	res, err := newCore(st).Revoke(context.Background(), Request{Op: auth.OpOAM, Principal: su, Token: refOf("a=b"),
		Aliases: []TokenRef{RefFromToken("a%3Db"), RefFromToken("a=b")}})
	if err != nil || res.Invalidated != 1 || res.PreviouslyInvalidated != 0 || len(st.appended) != 2 {
		t.Fatalf("%+v %v (appended %d)", res, err, len(st.appended))
	}
}

func TestStoreFailures(t *testing.T) {
	su := auth.Superuser(auth.KindUser, "admin")
	st := &memStore{fail: func(Entry) bool { return true }}
	_, err := newCore(st).Revoke(context.Background(), Request{Op: auth.OpElasticsearch, Principal: su, Token: refOf("x")})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a token that could not be stored: %v", err)
	}
	_, err = newCore(st).Revoke(context.Background(), Request{Op: auth.OpElasticsearch, Principal: su, Realm: "saml1"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a rule that could not be stored: %v", err)
	}
	// the main token stored, an alias not: the request succeeds and names the failure
	st = &memStore{fail: func(e Entry) bool { return e.Subject == events.TokenSubject(events.TokenKey("alias")) }}
	res, err := newCore(st).Revoke(context.Background(), Request{Op: auth.OpOAM, Principal: su, Token: refOf("main"),
		Aliases: []TokenRef{RefFromToken("alias")}})
	if err != nil || res.Invalidated != 1 || len(res.Details) != 1 || res.Details[0].Kind != DetailStore ||
		res.Details[0].Token != events.TokenKey("alias") {
		t.Fatalf("partial failure: %+v %v", res, err)
	}
}

// Seen: a JWT whose exp is 200 years ahead stored a 200-year TTL, and 300
// years overflowed the TTL arithmetic into a 503. An unverified exp is
// clamped to --max-token-lifetime plus leeway.
func TestUnverifiedExpIsClamped(t *testing.T) {
	su := auth.Superuser(auth.KindClient, "admin")
	for _, years := range []int{200, 300, 100000} {
		st := &memStore{}
		exp := time.Now().AddDate(min(years, 9000), 0, 0).Unix()
		if years > 9000 {
			exp = 1e11 - 1 // the largest NumericDate jwtclaims reads
		}
		tok := jwt(fmt.Sprintf(`{"iss":"https://idp.example.com","sub":"alice","exp":%d}`, exp))
		before := time.Now()
		res, err := newCore(st).Revoke(context.Background(), Request{Op: auth.OpOAM, Principal: su, Token: refOf(tok)})
		if err != nil || res.Invalidated != 1 {
			t.Fatalf("%d years: %+v %v", years, res, err)
		}
		ev := eventsOf(t, st)[0]
		limit := time.Now().Add(DefaultMaxTokenLifetime + ExpiryLeeway)
		if ev.ExpiresAt.After(limit) || ev.ExpiresAt.Before(before.Add(DefaultMaxTokenLifetime)) {
			t.Errorf("%d years: expires_at %v, want about %v", years, ev.ExpiresAt, limit)
		}
		if ttl := time.Until(st.appended[0].ExpiresAt); ttl <= 0 || ttl > DefaultMaxTokenLifetime+ExpiryLeeway {
			t.Errorf("%d years: entry TTL %v", years, ttl)
		}
	}
}

// Found in review: a revocation stored and enforced whose ledger mark
// failed was reported as DetailStore ("could not be stored"), which the
// signals receiver read as "not stored" and answered 503, so the
// transmitter retried a signal already applied. It has its own kind.
func TestUncountedIsNotAStoreFailure(t *testing.T) {
	su := auth.Superuser(auth.KindUser, "admin")
	st := &memStore{fail: func(e Entry) bool { return len(e.Data) == 0 }} // ledger marks fail, events store
	res, err := newCore(st).Revoke(context.Background(), Request{Op: auth.OpElasticsearch, Principal: su, Token: refOf("x")})
	if err != nil {
		t.Fatalf("stored, only its mark failed: %v", err)
	}
	if len(st.appended) != 1 || len(res.Details) != 1 || res.Details[0].Kind != DetailUncounted || res.Invalidated != 0 {
		t.Fatalf("%d events stored, result %+v: want the event stored and one uncounted detail", len(st.appended), res)
	}
}
