package oam

import (
	"net/http"
	"testing"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// want is what the core must receive; the identity domain is DemoDomain
// and the client DemoClientId unless the case sends another.
type want struct {
	token    string   // the canonical token
	aliases  []string // the other spellings, in order
	typ      string
	chaining publisher.Chaining
	realm    string
}

func checkRequest(t *testing.T, core *fakeCore, w want) {
	t.Helper()
	got := core.requests()
	if len(got) != 1 {
		t.Fatalf("the core got %d requests", len(got))
	}
	r := got[0]
	if w.realm == "" {
		w.realm = "DemoDomain"
	}
	if w.chaining == "" {
		w.chaining = publisher.ChainNone
	}
	if r.Token == nil || r.Token.Sum != events.TokenKey(w.token) {
		t.Errorf("token is not the hash of %q: %+v", w.token, r.Token)
	}
	if len(r.Aliases) != len(w.aliases) {
		t.Errorf("%d aliases, want %d (%q)", len(r.Aliases), len(w.aliases), w.aliases)
	}
	for i := 0; i < len(r.Aliases) && i < len(w.aliases); i++ {
		if r.Aliases[i].Sum != events.TokenKey(w.aliases[i]) {
			t.Errorf("alias %d is not the hash of %q", i, w.aliases[i])
		}
	}
	if r.TokenType != w.typ || r.Chaining != w.chaining || r.Realm != w.realm {
		t.Errorf("type %q chaining %q realm %q, want %q %q %q", r.TokenType, r.Chaining, r.Realm, w.typ, w.chaining, w.realm)
	}
	if r.Op != auth.OpOAM || r.Principal == nil || r.Principal.ID != "DemoClientId" || r.Client != "DemoClientId" || r.User != "" {
		t.Errorf("op %q principal %v client %q user %q", r.Op, r.Principal, r.Client, r.User)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("the request is not valid: %v", err)
	}
}

func TestSuccess(t *testing.T) {
	cases := []struct {
		name string
		c    call
		want want
	}{
		{"plain token", call{body: "token=abc"}, want{token: "abc"}},
		{"refresh token", call{body: "token=abc&token_type=REFRESH_TOKEN"}, want{token: "abc", typ: events.RefreshToken}},
		{"token_type is case-insensitive", call{body: "token=abc&token_type=access_token"}, want{token: "abc", typ: events.AccessToken}},
		{"NONE", call{body: "token=abc&token_type=NONE"}, want{token: "abc"}},
		{"RFC 7009 hint", call{body: "token=abc&token_type_hint=refresh_token"}, want{token: "abc", typ: events.RefreshToken}},
		{"hint in upper case", call{body: "token=abc&token_type_hint=ACCESS_TOKEN"}, want{token: "abc", typ: events.AccessToken}},
		{"NONE with a hint takes the hint", call{body: "token=abc&token_type=NONE&token_type_hint=access_token"}, want{token: "abc", typ: events.AccessToken}},
		{"type and hint agree", call{body: "token=abc&token_type=REFRESH_TOKEN&token_type_hint=Refresh_Token"}, want{token: "abc", typ: events.RefreshToken}},
		{"empty fields count as absent", call{body: "token=abc&token_type=&token_type_hint=&chaining_level="}, want{token: "abc"}},
		{"related tokens", call{body: "token=abc&chaining_level=related_tokens"}, want{token: "abc", chaining: publisher.ChainRelatedTokens}},
		{"related consent", call{body: "chaining_level=RELATED_CONSENT&token=abc"}, want{token: "abc", chaining: publisher.ChainRelatedConsent}},
		{"explicit NONE chaining", call{body: "token=abc&chaining_level=None"}, want{token: "abc", chaining: publisher.ChainNone}},
		{"unknown parameters and the Cookie are ignored", call{body: "client_id=x&token=abc&foo=bar&foo=baz",
			header: http.Header{"Cookie": {"JSESSIONID=abc!-1"}}}, want{token: "abc"}},
		{"percent escapes inside the value", call{body: "token=abc%253D%253D%257Ed"}, want{token: "abc==~d", aliases: []string{"abc%3D%3D%7Ed"}}},
		{"line breaks inside the value", call{body: "token=ab%0Acd%0D%0Aef"}, want{token: "abcdef", aliases: []string{"ab\ncd\r\nef"}}},
		{"escapes and line breaks", call{body: "token=a%252B%0Ab%252F"}, want{token: "a+b/", aliases: []string{"a%2B\nb%2F", "a%2Bb%2F"}}},
		{"surrounding blanks", call{body: "token=+%09abc+"}, want{token: "abc", aliases: []string{" \tabc "}}},
		{"a lone percent sign is kept", call{body: "token=50%25"}, want{token: "50%"}},
		{"an escaped line break is not decoded", call{body: "token=a%250Ab"}, want{token: "a%0Ab"}},
		{"plus in a raw body is a space", call{body: "token=a+b"}, want{token: "a b"}},
		{"identity domain in the query", call{domain: "-", target: Route + "?identityDomain=Q", body: "token=abc"}, want{token: "abc", realm: "Q"}},
		{"form parameters with charset", call{contentType: "application/x-www-form-urlencoded;charset=UTF-8", body: "token=abc"}, want{token: "abc"}},
		{"media type in capitals, charset after a space", call{contentType: "Application/X-WWW-Form-URLEncoded; charset=utf-8", body: "token=abc"}, want{token: "abc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := newCore()
			w := do(newHandler(core), tc.c)
			checkAnswer(t, w, 200, `{"status":"success"}`, nil)
			checkRequest(t, core, tc.want)
		})
	}
}

// The header wins over the query parameter; an empty header counts as absent.
func TestIdentityDomainPrecedence(t *testing.T) {
	cases := []struct {
		name, domain, target, realm string
		emptyHeader                 bool
	}{
		{"header only", "H", Route, "H", false},
		{"query only", "-", Route + "?identityDomain=Q", "Q", false},
		{"both: the header wins", "H", Route + "?identityDomain=Q", "H", false},
		{"empty header: the query", "-", Route + "?identityDomain=Q&identityDomain=", "Q", true},
		{"query escaped", "-", Route + "?identityDomain=Demo%20Domain", "Demo Domain", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := newCore()
			c := call{domain: tc.domain, target: tc.target, body: "token=abc"}
			if tc.emptyHeader {
				c.header = http.Header{"X-Oauth-Identity-Domain-Name": {""}}
			}
			w := do(newHandler(core), c)
			checkAnswer(t, w, 200, `{"status":"success"}`, nil)
			checkRequest(t, core, want{token: "abc", realm: tc.realm})
		})
	}
}
