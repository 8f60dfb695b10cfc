package main

import (
	"strings"
	"testing"
)

func TestParseConfigTransmittersAndUserClaims(t *testing.T) {
	t.Setenv("REVOCAST_TEST_POLL_TOKEN", "poll-secret")
	h := testHash()
	c, err := parseConfig([]byte(`
realms:
  - {name: acme, issuers: [https://kc.example.com/realms/acme], user_claim: preferred_username}
  - {name: plain, issuers: [https://plain.example.com], user_claim: sub}
transmitters:
  - name: keycloak
    issuer: https://kc.example.com/realms/acme
    jwks_uri: https://kc.example.com/realms/acme/protocol/openid-connect/certs
    audience: https://revocast.example.com
    algorithms: [RS256, ES256]
    realms: [acme]
    push: {bearer_token_hash: '` + h + `'}
    backchannel_logout: {audiences: [portal, orders-api]}
  - name: okta
    issuer: https://okta.example.com
    jwks_uri: https://okta.example.com/oauth2/v1/keys
    audience: revocast
    realms: ["*"]
    poll: {url: https://okta.example.com/ssf/poll, bearer_token_env: REVOCAST_TEST_POLL_TOKEN}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.transmitters) != 2 || c.userClaims["acme"] != "preferred_username" || len(c.userClaims) != 1 {
		t.Fatalf("transmitters %d, user claims %v", len(c.transmitters), c.userClaims)
	}
}

// Every problem of the transmitters and the user claims is reported at
// once with the others', and no secret is echoed.
func TestParseConfigTransmitterProblemsAtOnce(t *testing.T) {
	_, err := parseConfig([]byte(`
realms:
  - {name: acme, user_claim: iss}
transmitters:
  - name: kc
    issuer: https://kc.example.com
    jwks_uri: http://kc.example.com/certs
    algorithms: [none, HS256]
    realms: [acme]
    push: {bearer_token_hash: the-plain-push-secret}
  - name: kc
    issuer: https://kc.example.com
    jwks_file: /nonexistent/jwks.json
    realms: []
    poll: {url: https://kc.example.com/poll, bearer_token_env: REVOCAST_TEST_UNSET_VARIABLE}
    colour: blue
`))
	if err == nil {
		t.Fatal("accepted")
	}
	if !strings.Contains(err.Error(), "field colour not found") {
		// An unknown key stops the YAML decoder first: fix it and the rest is reported.
		t.Fatalf("unknown key: %v", err)
	}
	_, err = parseConfig([]byte(`
realms:
  - {name: acme, user_claim: iss}
transmitters:
  - name: kc
    issuer: https://kc.example.com
    jwks_uri: http://kc.example.com/certs
    algorithms: [none, HS256]
    realms: [acme]
    push: {bearer_token_hash: the-plain-push-secret}
  - name: kc
    issuer: https://kc.example.com
    jwks_file: /nonexistent/jwks.json
    realms: []
    poll: {url: https://kc.example.com/poll, bearer_token_env: REVOCAST_TEST_UNSET_VARIABLE}
`))
	for _, want := range []string{`realm "acme": user_claim: "iss" names no user`, "jwks_uri", "must be https",
		`algorithm "none" is never accepted`, `algorithm "HS256" is never accepted`, "audience", "push.bearer_token_hash",
		"defined twice", "belongs to another transmitter", "jwks_file", "realms lists no realm", "bearer token"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "the-plain-push-secret") {
		t.Fatal("the error echoes a secret")
	}
}
