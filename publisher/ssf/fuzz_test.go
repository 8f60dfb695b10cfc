package ssf

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/ssftest"
	"github.com/revocast/revocast/publisher/auth"
)

// fuzzReceiver maps without NATS: what is fuzzed is parsing and mapping.
func fuzzReceiver(claim string) (*Receiver, *transmitter) {
	r := &Receiver{issuerRealms: map[string]string{issuer: "acme"}, userClaims: map[string]string{"acme": claim},
		m: newMetrics(nil), log: zerolog.Nop(), now: time.Now, window: events.DefaultMaxTokenLifetime}
	t := &transmitter{cfg: TransmitterConfig{Name: "idp", Issuer: issuer, Audience: audience},
		principal: auth.NewPrincipal(auth.KindTransmitter, "idp", []string{string(auth.OpSSF)}, []string{"acme"}), defaultRealm: "acme"}
	return r, t
}

// FuzzParseSET: any payload either is refused with an RFC 8935 code or
// maps to requests the core accepts, each within the transmitter's realms.
func FuzzParseSET(f *testing.F) {
	for _, c := range []string{
		`{"iss":"` + issuer + `","aud":"` + audience + `","iat":1,"jti":"1","sub_id":{"format":"complex","user":{"format":"iss_sub","iss":"` + issuer + `","sub":"u"},"session":{"format":"opaque","id":"s"}},"events":{"` + ssftest.SessionRevoked + `":{"event_timestamp":1}}}`,
		`{"iss":"i","iat":1,"jti":"1","sub_id":{"format":"jwt_id","iss":"` + issuer + `","jti":"t"},"events":{"` + ssftest.TokenClaimsChange + `":{}}}`,
		`{"iss":"i","iat":1,"jti":"1","sub_id":{"format":"email","email":"a@b"},"events":{"` + ssftest.CredentialChange + `":{"subject":{}}}}`,
		`{"iss":"i","iat":1e300,"jti":"","events":{}}`,
		`{"iss":"i","iat":1,"jti":"1","sub_id":{"user":{"format":"complex"}},"events":{"` + ssftest.AccountPurged + `":{}}}`,
		`{"iss":"i","iat":1,"jti":"1","sid":"s","sub_id":{"format":"opaque","id":"x"},"events":{"` + ssftest.SessionRevoked + `":{}}}`,
	} {
		f.Add([]byte(c), "sub")
		f.Add([]byte(c), "email")
	}
	f.Fuzz(func(t *testing.T, payload []byte, claim string) {
		r, tr := fuzzReceiver(claim)
		s, e := ParseSET(payload)
		if e != nil {
			if e.Code != CodeInvalidRequest {
				t.Fatalf("a parse error with code %s", e.Code)
			}
			return
		}
		if s.JTI == "" || s.Issuer == "" || len(s.Events) == 0 || len(s.Events) > maxEventsPerSET {
			t.Fatalf("parsed an incomplete SET: %+v", s)
		}
		reqs, um, e := r.mapSET(tr, s)
		if um != nil || e != nil {
			return
		}
		for _, req := range reqs {
			req.Principal, req.Op = tr.principal, auth.OpSSF
			if err := req.Validate(); err != nil {
				t.Fatalf("mapped to a request the core refuses: %+v: %v", req, err)
			}
			if !tr.allows(req.Realm) {
				t.Fatalf("mapped outside the transmitter's realms: %q", req.Realm)
			}
		}
	})
}

// FuzzParseLogoutToken: a payload is refused, or has iss, jti, aud, the
// logout event, sid or sub, and no nonce.
func FuzzParseLogoutToken(f *testing.F) {
	f.Add([]byte(`{"iss":"i","aud":"c","iat":1,"jti":"j","sid":"s","events":{"` + ssftest.BackchannelLogout + `":{}}}`))
	f.Add([]byte(`{"iss":"i","aud":["c"],"iat":1,"jti":"j","sub":"u","nonce":"n","events":{"` + ssftest.BackchannelLogout + `":{}}}`))
	f.Add([]byte(`{"iss":"i","aud":"c","iat":"1","jti":"j","events":{"` + ssftest.BackchannelLogout + `":[]}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		lt, e := ParseLogoutToken(payload)
		if e != nil {
			return
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal(payload, &raw) != nil {
			t.Fatal("accepted a payload that is not JSON")
		}
		if _, nonce := raw["nonce"]; nonce || lt.JTI == "" || lt.Issuer == "" || len(lt.Audience) == 0 || (lt.Session == "" && lt.Subject == "") {
			t.Fatalf("accepted an invalid logout token: %+v", lt)
		}
	})
}

// FuzzVerifyToken: any token string is refused with an RFC 8935 code or
// verifies under the transmitter's key; only a token it signed verifies.
func FuzzVerifyToken(f *testing.F) {
	k := ssftest.NewKey(f, "k1", jose.ES256)
	ks := &keySet{keys: []jose.JSONWebKey{k.JWK()}, algs: Algorithms, now: time.Now}
	good := ssftest.SignWith(f, k, ssftest.Claims{"iss": "i"}, "secevent+jwt")
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJpIn0.")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, tok string) {
		payload, _, e := verifyJWS(context.Background(), ks, Algorithms, tok)
		if e == nil && tok != good && string(payload) != `{"iss":"i"}` {
			t.Fatalf("an unsigned payload verified: %q", payload)
		}
	})
}
