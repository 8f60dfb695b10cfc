package jwtclaims

import (
	"encoding/base64"
	"testing"
	"time"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestParse(t *testing.T) {
	c, err := Parse(jwt(`{"iss":"https://idp","sub":"alice","azp":"app","iat":1700000000,"exp":1700003600.5}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://idp" || c.Subject != "alice" || c.Client != "app" ||
		!c.IssuedAt.Equal(time.Unix(1700000000, 0)) || c.Expiry.Unix() != 1700003600 {
		t.Fatalf("claims = %+v", c)
	}
	c, _ = Parse(jwt(`{"sub":"bob","client_id":"cli"}`))
	if c.Client != "cli" || !c.IssuedAt.IsZero() {
		t.Fatalf("client_id fallback / absent iat: %+v", c)
	}
}

func TestNotJWT(t *testing.T) {
	for _, tok := range []string{"opaque-token", "a.b", "eyJ.!!!.x", jwt(`[1,2]`), jwt(`{"iat":"yesterday"}`), "eyJ.a.b.c"} {
		if _, err := Parse(tok); err == nil {
			t.Errorf("%q parsed as a JWT", tok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(jwt(`{"iss":"x","iat":1}`))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Parse(tok)
		if err == nil && !c.IssuedAt.IsZero() && c.IssuedAt.Unix() < 0 {
			t.Fatalf("negative iat accepted: %v", c.IssuedAt)
		}
	})
}
