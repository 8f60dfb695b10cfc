package jwtclaims

import "testing"

func TestClaim(t *testing.T) {
	tok := jwt(`{"sub":"f81d","preferred_username":"alice","email":"alice@example.com","Email":"other","n":3,"sid":"s1"}`)
	for name, want := range map[string]string{
		"preferred_username": "alice",
		"email":              "alice@example.com", // exact name, not Email
		"n":                  "",                  // not a string
		"absent":             "",
	} {
		if got, err := Claim(tok, name); err != nil || got != want {
			t.Errorf("Claim(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	c, _ := Parse(tok)
	if c.Session != "s1" {
		t.Errorf("sid: %+v", c)
	}
	for _, bad := range []string{"opaque", jwt(`[1]`), jwt(`null`), "eyJ.!!.x"} {
		if _, err := Claim(bad, "sub"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzClaim(f *testing.F) {
	f.Add(jwt(`{"email":"a@b"}`), "email")
	f.Add(jwt(`{"email":{"x":1}}`), "email")
	f.Fuzz(func(t *testing.T, tok, name string) {
		v, err := Claim(tok, name)
		if err != nil && v != "" {
			t.Fatalf("a value with an error: %q", v)
		}
		if len(v) > len(tok) {
			t.Fatalf("a claim longer than its token")
		}
	})
}
