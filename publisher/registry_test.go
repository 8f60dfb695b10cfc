package publisher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher/auth"
)

// memRegistry is an in-memory Registry double: one record per token and
// realm, in registration order.
type memRegistry struct{ recs []Record }

func (m *memRegistry) add(tok, typ, realm, user, client, parent string) {
	r := Record{Sum: events.TokenKey(tok), Type: typ, Realm: realm, User: user, Client: client, ExpiresAt: time.Now().Add(time.Hour)}
	if parent != "" {
		r.Parent = events.TokenKey(parent)
	}
	m.recs = append(m.recs, r)
}

func (m *memRegistry) Lookup(_ context.Context, s events.Sum, realms []string) ([]Record, error) {
	var out []Record
	for _, r := range m.recs {
		if r.Sum == s && (len(realms) == 0 || slices.Contains(realms, r.Realm)) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memRegistry) Find(_ context.Context, sc Scope) ([]Record, error) {
	var out []Record
	for _, r := range m.recs {
		if (sc.Realm == "" || r.Realm == sc.Realm) && (sc.User == "" || r.User == sc.User) && (sc.Client == "" || r.Client == sc.Client) {
			out = append(out, r)
		}
	}
	return out, nil
}

// A user with two grants (refresh r1 with access a1, a2; refresh r2 with a3)
// in realm saml1 through client app, another client's token, another user.
func fixture() *memRegistry {
	m := &memRegistry{}
	m.add("r1", events.RefreshToken, "saml1", "alice", "app", "")
	m.add("a1", events.AccessToken, "saml1", "alice", "app", "r1")
	m.add("a2", events.AccessToken, "saml1", "alice", "app", "r1")
	m.add("r2", events.RefreshToken, "saml1", "alice", "app", "")
	m.add("a3", events.AccessToken, "saml1", "alice", "app", "r2")
	m.add("o1", events.AccessToken, "saml1", "alice", "other-app", "")
	m.add("b1", events.AccessToken, "saml1", "bob", "app", "")
	m.add("z1", events.AccessToken, "saml2", "alice", "app", "")
	return m
}

func registryCore(reg Registry, mode RegistryMode, st Store) *Core {
	return NewCore(Config{Registry: reg, Mode: mode}, st, nil, zerolog.Nop(), nil)
}

func revokedSet(t testing.TB, st *memStore) map[string]bool {
	out := map[string]bool{}
	name := func(s events.Sum) {
		for _, tok := range []string{"r1", "a1", "a2", "r2", "a3", "o1", "b1", "z1", "unknown"} {
			if s == events.TokenKey(tok) {
				out[tok] = true
			}
		}
	}
	for _, ev := range eventsOf(t, st) {
		switch ev.Kind {
		case events.KindToken:
			name(ev.Token)
		case events.KindTokens:
			for _, it := range ev.Tokens {
				name(it.Token)
			}
		default:
			out["rule:"+string(ev.Scope)] = true
		}
	}
	return out
}

func set(names ...string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

func TestRegistrySemantics(t *testing.T) {
	su := auth.Superuser(auth.KindClient, "app")
	tok := func(s string) *TokenRef { r := RefFromSum(events.TokenKey(s)); return &r }
	cases := []struct {
		name        string
		req         Request
		revoked     map[string]bool
		invalidated int
		err         error
	}{
		{"elasticsearch user in realm: rule and every registered token", Request{Op: auth.OpElasticsearch, Principal: su, Realm: "saml1", User: "alice"},
			set("r1", "a1", "a2", "r2", "a3", "o1", "rule:realm_user"), 6, nil},
		{"elasticsearch user in every realm", Request{Op: auth.OpElasticsearch, Principal: su, User: "alice"},
			set("r1", "a1", "a2", "r2", "a3", "o1", "z1", "rule:user"), 7, nil},
		{"elasticsearch realm", Request{Op: auth.OpElasticsearch, Principal: su, Realm: "saml2"},
			set("z1", "rule:realm"), 1, nil},
		{"elasticsearch single refresh token: only it", Request{Op: auth.OpElasticsearch, Principal: su, Token: tok("r1"), TokenType: events.RefreshToken},
			set("r1"), 1, nil},
		{"OAM RELATED_TOKENS on a refresh token: its access tokens", Request{Op: auth.OpOAM, Principal: su, Token: tok("r1"), Chaining: ChainRelatedTokens},
			set("r1", "a1", "a2"), 3, nil},
		{"OAM RELATED_TOKENS on an access token: its refresh token", Request{Op: auth.OpOAM, Principal: su, Token: tok("a3"), Chaining: ChainRelatedTokens},
			set("a3", "r2"), 2, nil},
		{"OAM RELATED_CONSENT: the consent's tokens and a rule", Request{Op: auth.OpOAM, Principal: su, Token: tok("a1"), Chaining: ChainRelatedConsent, Realm: "saml1"},
			set("r1", "a1", "a2", "r2", "a3", "rule:consent"), 5, nil},
		{"OneLogin: the access token and its refresh token", Request{Op: auth.OpOneLogin, Principal: su, Token: tok("a1"), Chaining: ChainRelatedTokens, OwnedByClient: true, Client: "app"},
			set("a1", "r1"), 2, nil},
		{"OneLogin: another client's token is refused", Request{Op: auth.OpOneLogin, Principal: su, Token: tok("o1"), Chaining: ChainRelatedTokens, OwnedByClient: true, Client: "app"},
			set(), 0, ErrWrongClient},
		{"RFC 7009 refresh token: every access token of its grant", Request{Op: auth.OpRFC7009, Principal: su, Token: tok("r2"), Chaining: ChainGrant, OwnedByClient: true, Client: "app"},
			set("r2", "a3"), 2, nil},
		{"RFC 7009 access token: only it", Request{Op: auth.OpRFC7009, Principal: su, Token: tok("a1"), Chaining: ChainGrant, OwnedByClient: true, Client: "app"},
			set("a1"), 1, nil},
		{"RFC 7009: another client's token is not revoked", Request{Op: auth.OpRFC7009, Principal: su, Token: tok("o1"), Chaining: ChainGrant, OwnedByClient: true, Client: "app"},
			set(), 0, ErrWrongClient},
		{"advisory: an unknown token is revoked", Request{Op: auth.OpElasticsearch, Principal: su, Token: tok("unknown")},
			set("unknown"), 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &memStore{}
			res, err := registryCore(fixture(), Advisory, st).Revoke(context.Background(), c.req)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got := revokedSet(t, st); fmt.Sprint(got) != fmt.Sprint(c.revoked) {
				t.Errorf("revoked %v, want %v", got, c.revoked)
			}
			if res.Invalidated != c.invalidated {
				t.Errorf("invalidated = %d, want %d", res.Invalidated, c.invalidated)
			}
		})
	}
}

func TestRegistryCountsAndAuthoritativeMode(t *testing.T) {
	su := auth.Superuser(auth.KindUser, "admin")
	st := &memStore{}
	core := registryCore(fixture(), Authoritative, st)
	req := Request{Op: auth.OpElasticsearch, Principal: su, Realm: "saml1", User: "alice"}
	first, err := core.Revoke(context.Background(), req)
	if err != nil || first.Invalidated != 6 || first.PreviouslyInvalidated != 0 {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := core.Revoke(context.Background(), req)
	if err != nil || second.Invalidated != 0 || second.PreviouslyInvalidated != 6 {
		t.Fatalf("a second identical request: %+v %v", second, err)
	}
	unknown := RefFromSum(events.TokenKey("unknown"))
	res, err := core.Revoke(context.Background(), Request{Op: auth.OpElasticsearch, Principal: su, Token: &unknown})
	if err != nil || !res.NotFound || res.Invalidated != 0 {
		t.Fatalf("authoritative, unknown token: %+v %v", res, err)
	}
	if revokedSet(t, st)["unknown"] {
		t.Fatal("an unknown token was revoked in authoritative mode")
	}
}

// Seen (R2): a realm-A principal asking to revoke realm B made the front
// read realm B's registry entries before answering 403, and RFC 7009 told a
// realm-A client that a realm-B token is registered. Authorization now
// comes before any read, the registry is read only in the principal's
// realms, and a token registered in another realm is answered exactly as
// an unknown one.
func TestAuthorizationBeforeAnyRegistryRead(t *testing.T) {
	limited := auth.NewPrincipal(auth.KindClient, "app", []string{"*"}, []string{"saml2"})
	reg := &spyRegistry{memRegistry: fixture()}
	st := &memStore{}
	core := registryCore(reg, Advisory, st)
	ctx := context.Background()

	_, err := core.Revoke(ctx, Request{Op: auth.OpElasticsearch, Principal: limited, Realm: "saml1"})
	if !errors.Is(err, ErrForbidden) || len(reg.reads) != 0 {
		t.Fatalf("revoking another realm: %v after reading %v", err, reg.reads)
	}
	_, err = core.Revoke(ctx, Request{Op: auth.OpElasticsearch, Principal: limited, User: "alice"})
	if !errors.Is(err, ErrForbidden) || len(reg.reads) != 0 {
		t.Fatalf("revoking a user in every realm: %v after reading %v", err, reg.reads)
	}

	registered := RefFromSum(events.TokenKey("a1")) // registered in saml1
	unknown := RefFromSum(events.TokenKey("never-registered"))
	_, errRegistered := core.Revoke(ctx, Request{Op: auth.OpRFC7009, Principal: limited, Token: &registered, OwnedByClient: true, Client: "app"})
	_, errUnknown := core.Revoke(ctx, Request{Op: auth.OpRFC7009, Principal: limited, Token: &unknown, OwnedByClient: true, Client: "app"})
	if errRegistered == nil || errUnknown == nil || errRegistered.Error() != errUnknown.Error() {
		t.Fatalf("a realm-B token and an unknown one are told apart: %v / %v", errRegistered, errUnknown)
	}
	for _, r := range reg.reads {
		if r != "saml2" {
			t.Fatalf("the registry was read in %q", r)
		}
	}
	if len(st.appended) != 0 {
		t.Fatalf("%d events stored", len(st.appended))
	}
	// In its own realm the same principal finds its tokens.
	own := RefFromSum(events.TokenKey("z1")) // saml2
	res, err := core.Revoke(ctx, Request{Op: auth.OpRFC7009, Principal: limited, Token: &own, OwnedByClient: true, Client: "app"})
	if err != nil || res.Invalidated != 1 {
		t.Fatalf("own realm: %+v %v", res, err)
	}
}

// spyRegistry records the realms each read touched ("*" for every realm).
type spyRegistry struct {
	*memRegistry
	reads []string
}

func (s *spyRegistry) Lookup(ctx context.Context, sum events.Sum, realms []string) ([]Record, error) {
	if realms == nil {
		s.reads = append(s.reads, "*")
	}
	s.reads = append(s.reads, realms...)
	return s.memRegistry.Lookup(ctx, sum, realms)
}

func (s *spyRegistry) Find(ctx context.Context, sc Scope) ([]Record, error) {
	r := sc.Realm
	if r == "" {
		r = "*"
	}
	s.reads = append(s.reads, r)
	return s.memRegistry.Find(ctx, sc)
}

// A bulk revocation whose one batch cannot be stored: that batch's tokens
// are named in the details and not counted; the rest are, and the request
// succeeds.
func TestBulkPartialFailure(t *testing.T) {
	reg := &memRegistry{}
	for i := 0; i < 2*events.MaxBatch+10; i++ {
		reg.add(fmt.Sprint("bulk-", i), events.AccessToken, "saml1", "ivan", "app", "")
	}
	st := &memStore{fail: func(e Entry) bool {
		return strings.HasSuffix(e.Subject, ".1") && strings.Contains(e.Subject, ".batch.")
	}}
	res, err := registryCore(reg, Advisory, st).Revoke(context.Background(),
		Request{Op: auth.OpElasticsearch, Principal: auth.Superuser(auth.KindUser, "admin"), Realm: "saml1", User: "ivan"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Invalidated != events.MaxBatch+10 || len(res.Details) != events.MaxBatch {
		t.Fatalf("invalidated %d, %d details; want %d and %d", res.Invalidated, len(res.Details), events.MaxBatch+10, events.MaxBatch)
	}
	for _, d := range res.Details {
		if d.Kind != DetailStore || d.Token.IsZero() {
			t.Fatalf("detail %+v", d)
		}
	}
}

// The realm is part of a registry record's identity: a token registered in
// realm saml1 (first, by a squatter) and in saml2 has two records. Realm
// saml2's admin, naming no realm, acts on saml2's record and is not refused
// for saml1's (a saml1 target would be forbidden); a request naming its
// realm reads only that realm's record; among records a principal may act
// on, its client's is preferred (saml1's would not find the child).
func TestAnotherRealmsRecordNeverBlocksThisRealm(t *testing.T) {
	reg := &memRegistry{}
	reg.add("sq", events.RefreshToken, "saml1", "mallory", "evil", "")
	reg.add("sq", events.RefreshToken, "saml2", "bob", "app", "")
	reg.add("sq-child", events.AccessToken, "saml2", "bob", "app", "sq")
	adminB := auth.NewPrincipal(auth.KindClient, "app", []string{"*"}, []string{"saml2"})
	tok := func(s string) *TokenRef { r := RefFromSum(events.TokenKey(s)); return &r }
	for _, c := range []struct {
		name    string
		req     Request
		revoked map[string]bool
	}{
		{"elasticsearch, no realm", Request{Op: auth.OpElasticsearch, Principal: adminB, Token: tok("sq")}, set("sq")},
		{"OAM in saml2, RELATED_TOKENS", Request{Op: auth.OpOAM, Principal: adminB, Token: tok("sq"), Chaining: ChainRelatedTokens, Realm: "saml2"},
			set("sq", "sq-child")},
		{"RFC 7009 by a superuser: its client's record", Request{Op: auth.OpRFC7009, Principal: auth.Superuser(auth.KindClient, "app"),
			Token: tok("sq"), Chaining: ChainGrant, OwnedByClient: true, Client: "app"}, set("sq", "sq-child")},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &memStore{}
			if _, err := registryCore(reg, Authoritative, st).Revoke(context.Background(), c.req); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, ev := range eventsOf(t, st) {
				for _, it := range append(ev.Tokens, events.TokenItem{Token: ev.Token}) {
					for _, name := range []string{"sq", "sq-child"} {
						if it.Token == events.TokenKey(name) {
							got[name] = true
						}
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.revoked) {
				t.Errorf("revoked %v, want %v", got, c.revoked)
			}
		})
	}
}
