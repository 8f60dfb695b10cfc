package oam

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// Every error answer, with its exact status, headers and body; the cases
// that combine two faults show the order of the checks.
func TestErrorAnswersAreExact(t *testing.T) {
	unauthorized := errBody("invalid_client", "Client authentication failed")
	challenge := map[string]string{"WWW-Authenticate": `Basic realm="oauth2"`}
	allow := map[string]string{"Allow": "POST"}
	ctWrong := badRequest("Content-Type must be application/x-www-form-urlencoded")
	noDomain := badRequest("the identity domain is required: send the x-oauth-identity-domain-name header or the identityDomain query parameter")
	tokenRequired := badRequest("token is required")
	badType := badRequest("token_type must be one of REFRESH_TOKEN, ACCESS_TOKEN, NONE")
	badHint := badRequest("token_type_hint must be one of refresh_token, access_token")
	badChain := badRequest("chaining_level must be one of NONE, RELATED_TOKENS, RELATED_CONSENT")
	client := auth.NewPrincipal(auth.KindClient, "DemoClientId", []string{"oam"}, []string{"DemoDomain"})
	long := strings.Repeat("d", publisher.MaxNameLen+1)
	cases := []struct {
		name    string
		c       call
		coreErr error // the core is reached (and answers this) only when set
		status  int
		body    string
		headers map[string]string
	}{
		{"GET", call{method: "GET", auth: "-", contentType: "-"}, nil, 405,
			badRequest("method GET is not allowed: use POST"), allow},
		{"DELETE with a body", call{method: "DELETE", body: "token=a"}, nil, 405,
			badRequest("method DELETE is not allowed: use POST"), allow},
		{"long method truncated to 32", call{method: strings.Repeat("M", 40)}, nil, 405,
			badRequest("method " + strings.Repeat("M", 32) + " is not allowed: use POST"), allow},
		{"no Authorization, and no body either", call{auth: "-", contentType: "text/plain"}, nil, 401, unauthorized, challenge},
		{"Bearer", call{auth: "Bearer abc", body: "token=a"}, nil, 401, unauthorized, challenge},
		{"malformed Basic", call{auth: "Basic !!!", body: "token=a"}, nil, 401, unauthorized, challenge},
		{"Basic without a colon", call{auth: "Basic " + b64("DemoClientId"), body: "token=a"}, nil, 401, unauthorized, challenge},
		{"wrong secret", call{auth: "Basic " + b64("DemoClientId:welcome2"), body: "token=a"}, nil, 401, unauthorized, challenge},
		{"unknown id", call{auth: "Basic " + b64("Nobody:welcome1"), body: "token=a"}, nil, 401, unauthorized, challenge},
		{"no Content-Type", call{contentType: "-", body: "token=a"}, nil, 400, ctWrong, nil},
		{"JSON", call{contentType: "application/json", body: `{"token":"a"}`}, nil, 400, ctWrong, nil},
		{"multipart", call{contentType: "multipart/form-data; boundary=x", body: "token=a"}, nil, 400, ctWrong, nil},
		{"unparsable Content-Type", call{contentType: "application/x-www-form-urlencoded; ;", body: "token=a"}, nil, 400, ctWrong, nil},
		{"Content-Type before the identity domain", call{contentType: "text/plain", domain: "-"}, nil, 400, ctWrong, nil},
		{"body too large", call{body: "token=" + strings.Repeat("a", publisher.DefaultMaxBody)}, nil, 413,
			badRequest(fmt.Sprintf("request body is larger than %d bytes", publisher.DefaultMaxBody)), nil},
		{"bad escape", call{body: "token=a%zz"}, nil, 400, badRequest("the request body is not valid application/x-www-form-urlencoded data"), nil},
		{"semicolon separator", call{body: "token=a;token_type=NONE"}, nil, 400, badRequest("the request body is not valid application/x-www-form-urlencoded data"), nil},
		{"token twice", call{body: "token=a&token=b"}, nil, 400, badRequest("parameter token is given more than once"), nil},
		{"token twice, once empty", call{body: "token=&token=b"}, nil, 400, badRequest("parameter token is given more than once"), nil},
		{"token_type twice", call{body: "token=a&token_type=NONE&token_type=NONE"}, nil, 400, badRequest("parameter token_type is given more than once"), nil},
		{"token_type_hint twice", call{body: "token=a&token_type_hint=x&token_type_hint=y"}, nil, 400, badRequest("parameter token_type_hint is given more than once"), nil},
		{"chaining_level twice", call{body: "token=a&chaining_level=NONE&chaining_level=NONE"}, nil, 400, badRequest("parameter chaining_level is given more than once"), nil},
		{"duplicate before the identity domain", call{domain: "-", body: "token=a&token=a"}, nil, 400, badRequest("parameter token is given more than once"), nil},
		{"no identity domain", call{domain: "-", body: "token=a"}, nil, 400, noDomain, nil},
		{"empty identity domains", call{domain: "-", target: Route + "?identityDomain=", header: http.Header{"X-Oauth-Identity-Domain-Name": {""}}, body: "token=a"}, nil, 400, noDomain, nil},
		{"identity domain header twice", call{header: http.Header{"X-Oauth-Identity-Domain-Name": {"Other"}}, body: "token=a"}, nil, 400,
			badRequest("header x-oauth-identity-domain-name is given more than once"), nil},
		{"identityDomain twice", call{domain: "-", target: Route + "?identityDomain=a&identityDomain=b", body: "token=a"}, nil, 400,
			badRequest("parameter identityDomain is given more than once"), nil},
		{"identity domain header too long", call{domain: long, body: "token=a"}, nil, 400,
			badRequest("the identity domain is longer than 1024 bytes"), nil},
		{"identityDomain too long", call{domain: "-", target: Route + "?identityDomain=" + long, body: "token=a"}, nil, 400,
			badRequest("the identity domain is longer than 1024 bytes"), nil},
		{"identity domain before the token", call{domain: "-"}, nil, 400, noDomain, nil},
		{"no body", call{}, nil, 400, tokenRequired, nil},
		{"no token", call{body: "token_type=NONE"}, nil, 400, tokenRequired, nil},
		{"empty token", call{body: "token=&token_type=NONE"}, nil, 400, tokenRequired, nil},
		{"token of line breaks and blanks", call{body: "token=%0D%0A+%09%0A"}, nil, 400, tokenRequired, nil},
		{"token before its type", call{body: "token_type=BOGUS"}, nil, 400, tokenRequired, nil},
		{"token too long", call{body: "token=" + strings.Repeat("a", publisher.MaxTokenLen+1)}, nil, 400,
			badRequest("token is longer than 16384 bytes"), nil},
		{"unknown token_type", call{body: "token=a&token_type=ID_TOKEN"}, nil, 400, badType, nil},
		{"Unicode case folding is not ASCII", call{body: "token=a&token_type=" + url.QueryEscape("ACCESS_TO\u212aEN")}, nil, 400, badType, nil},
		{"token_type before chaining_level", call{body: "token=a&token_type=x&chaining_level=y"}, nil, 400, badType, nil},
		{"unknown token_type_hint", call{body: "token=a&token_type_hint=id_token"}, nil, 400, badHint, nil},
		{"OAM's NONE is not a hint", call{body: "token=a&token_type_hint=NONE"}, nil, 400, badHint, nil},
		{"type and hint disagree", call{body: "token=a&token_type=ACCESS_TOKEN&token_type_hint=refresh_token"}, nil, 400,
			badRequest("token_type and token_type_hint name different token types"), nil},
		{"unknown chaining_level", call{body: "token=a&chaining_level=ALL"}, nil, 400, badChain, nil},
		{"forbidden identity domain", call{body: "token=a", domain: "Other"}, &publisher.ForbiddenError{Principal: client, Realm: "Other"}, 403,
			errBody("access_denied", "client [DemoClientId] may not revoke tokens in identity domain [Other]"), nil},
		{"forbidden format", call{body: "token=a"}, fmt.Errorf("wrapped: %w", &publisher.ForbiddenError{Principal: client, Op: auth.OpOAM}), 403,
			errBody("access_denied", "client [DemoClientId] may not use the OAM revocation endpoint"), nil},
		{"forbidden unknown realm", call{body: "token=a"}, &publisher.ForbiddenError{Principal: client, AllRealms: true}, 403,
			errBody("access_denied", "client [DemoClientId] may not revoke a token whose identity domain is unknown"), nil},
		{"core refuses the request", call{body: "token=a"}, fmt.Errorf("%w: chaining level \"X\"", publisher.ErrInvalidRequest), 400,
			badRequest(`invalid revocation request: chaining level "X"`), nil},
		{"over a realm's quota", call{body: "token=a"}, fmt.Errorf("wrapped: %w", &publisher.BudgetError{Realm: "DemoDomain", Limit: 10, Live: 10, Asked: 1}), 429,
			errBody("quota_exceeded", "realm [DemoDomain] may hold at most 10 live revocations (10 live now, 1 more asked); to revoke a large scope, revoke its realm, user or consent: an issued-before rule is one entry"), map[string]string{"Retry-After": ""}},
		{"store unavailable", call{body: "token=a"}, fmt.Errorf("%w: 1 of 1 revocations not stored", publisher.ErrUnavailable), 503,
			errBody("temporarily_unavailable", "the revocation could not be stored; nothing was revoked; retry"), map[string]string{"Retry-After": "1"}},
		{"any other core error", call{body: "token=a"}, errors.New("boom"), 503,
			errBody("temporarily_unavailable", "the revocation could not be stored; nothing was revoked; retry"), map[string]string{"Retry-After": "1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := newCore()
			core.err = tc.coreErr
			w := do(newHandler(core), tc.c)
			checkAnswer(t, w, tc.status, tc.body, tc.headers)
			if n := len(core.requests()); (tc.coreErr != nil) != (n == 1) || n > 1 {
				t.Errorf("the core got %d requests", n)
			}
		})
	}
}

// Only an alias stored (the counted token failed): no success is claimed.
func TestCanonicalTokenNotStoredIs503(t *testing.T) {
	core := newCore()
	core.res = publisher.Result{Details: []publisher.Detail{{Kind: publisher.DetailStore, Err: errors.New("timeout")}}}
	w := do(newHandler(core), call{body: "token=a%253D"})
	checkAnswer(t, w, 503, errBody("temporarily_unavailable", "the revocation could not be stored; nothing was revoked; retry"),
		map[string]string{"Retry-After": "1"})
	core.res = publisher.Result{PreviouslyInvalidated: 1}
	w = do(newHandler(core), call{body: "token=a%253D"})
	checkAnswer(t, w, 200, `{"status":"success"}`, nil)
}
