package main

import (
	"context"
	"errors"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"

	"github.com/revocast/revocast/cache"
	"github.com/revocast/revocast/subscriber"
)

// The official go-elasticsearch v8 typed client drives the front: all four
// request kinds decode, and errors decode into its ElasticsearchError.
func TestOfficialGoElasticsearchClient(t *testing.T) {
	sys := newSystem(t)
	dc, _ := cache.New(cache.Config{Capacity: 1000})
	defer dc.Close()
	side := sys.addSidecar("side", dc)
	es, err := elasticsearch.NewTypedClient(elasticsearch.Config{Addresses: []string{sys.url}, Username: testID, Password: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	res, err := es.Security.InvalidateToken().Token("es-access-token").Do(ctx)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	if res.InvalidatedTokens != 1 || res.PreviouslyInvalidatedTokens != 0 || res.ErrorCount != 0 {
		t.Fatalf("access token: %+v", res)
	}
	if d := side.Check("es-access-token"); d.Verdict != subscriber.Revoked {
		t.Fatalf("sidecar after the client's revocation: %+v", d)
	}
	res, err = es.Security.InvalidateToken().Token("es-access-token").Do(ctx)
	if err != nil || res.InvalidatedTokens != 0 || res.PreviouslyInvalidatedTokens != 1 {
		t.Fatalf("again: %+v %v", res, err)
	}
	res, err = es.Security.InvalidateToken().RefreshToken("vLBPvmAB6KvwvJZr27cS").Do(ctx)
	if err != nil || res.InvalidatedTokens != 1 {
		t.Fatalf("refresh token: %+v %v", res, err)
	}
	if _, err := es.Security.InvalidateToken().RealmName("saml1").Do(ctx); err != nil {
		t.Fatalf("realm: %v", err)
	}
	if _, err := es.Security.InvalidateToken().Username("myuser").Do(ctx); err != nil {
		t.Fatalf("user: %v", err)
	}
	if _, err := es.Security.InvalidateToken().Username("myuser").RealmName("saml1").Do(ctx); err != nil {
		t.Fatalf("user in realm: %v", err)
	}

	// Without credentials: the client decodes Elasticsearch's 401.
	anon, err := elasticsearch.NewTypedClient(elasticsearch.Config{Addresses: []string{sys.url}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = anon.Security.InvalidateToken().Token("x").Do(ctx)
	var unauth *types.ElasticsearchError
	if !errors.As(err, &unauth) || unauth.Status != 401 || unauth.ErrorCause.Type != "security_exception" || unauth.ErrorCause.Reason == nil ||
		*unauth.ErrorCause.Reason != "missing authentication credentials for REST request [/_security/oauth2/token]" {
		t.Fatalf("a 401 decoded as %T %+v", err, err)
	}

	_, err = es.Security.InvalidateToken().Token("x").RealmName("saml1").Do(ctx)
	var esErr *types.ElasticsearchError
	if !errors.As(err, &esErr) {
		t.Fatalf("a 400 did not decode as ElasticsearchError: %T %v", err, err)
	}
	if esErr.Status != 400 || esErr.ErrorCause.Type != "action_request_validation_exception" || esErr.ErrorCause.Reason == nil ||
		*esErr.ErrorCause.Reason != "Validation Failed: 1: token string must not be provided when realm name or username is specified;2: token type must not be provided when realm name or username is specified;" {
		t.Fatalf("decoded error: %+v", esErr)
	}
}
