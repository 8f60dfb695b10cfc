package events

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/revocast/revocast/internal/jwttest"
)

// Every spelling a JOSE library accepts has one revocation key: the
// re-encoded signature and the ECDSA high-s twin both verify with
// golang-jwt's default parser, and all three keys are equal.
func TestTokenKeySurvivesReencodingAndMalleability(t *testing.T) {
	key := jwttest.Key(t)
	tok := jwttest.ES256(t, key, jwt.MapClaims{"iss": "https://idp.example", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	parts := strings.Split(tok, ".")
	reenc, twin := jwttest.Reencoded(t, tok), jwttest.HighS(t, tok)
	for name, spelling := range map[string]string{"original": tok, "re-encoded": reenc, "high-s": twin} {
		if name != "original" && spelling == tok {
			t.Fatalf("%s spelling is the same text", name)
		}
		if err := jwttest.Verify(spelling, key); err != nil {
			t.Fatalf("golang-jwt refuses the %s spelling: %v", name, err)
		}
		k, form := TokenKeyForm(spelling)
		if form != FormJWS || k != Sum(sha256.Sum256([]byte(parts[0]+"."+parts[1]))) {
			t.Errorf("%s: key %s form %s, want the signing input's SHA-256", name, k.Short(), form)
		}
	}
	if LegacyTokenKey(reenc) == LegacyTokenKey(tok) {
		t.Fatal("the legacy whole-token key does not tell the spellings apart: the test proves nothing")
	}
}

func TestTokenKeyJWE(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: jose.ECDH_ES_A128KW, Key: &priv.PublicKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	k, form := TokenKeyForm(tok)
	if form != FormJWE {
		t.Fatalf("form %s", form)
	}
	for i := 1; i < 5; i++ {
		seg := parts[i]
		if (6*len(seg))%8 == 0 {
			continue
		}
		p := append([]string{}, parts...)
		p[i] = jwttest.ReencodeSegment(t, seg)
		other := strings.Join(p, ".")
		if got := TokenKey(other); got != k {
			t.Errorf("segment %d re-encoded: key changed", i)
		}
		if i == 4 { // the tag: prove the library accepts the spelling
			o, err := jose.ParseEncryptedCompact(other, []jose.KeyAlgorithm{jose.ECDH_ES_A128KW}, []jose.ContentEncryption{jose.A128GCM})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.Decrypt(priv); err != nil {
				t.Fatalf("go-jose refuses the re-encoded tag: %v", err)
			}
		}
	}
	p := append([]string{}, parts...)
	p[3] = "AAAA" + p[3][4:]
	if TokenKey(strings.Join(p, ".")) == k {
		t.Fatal("a different ciphertext has the same key")
	}
}

func TestTokenKeyForms(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, c := range []struct {
		tok  string
		form TokenForm
	}{
		{"opaque-token", FormOpaque},
		{"a.b.c", FormOpaque},
		{enc([]byte(`{"typ":"JWT"}`)) + ".e30.sig", FormOpaque},                   // no alg
		{enc([]byte(`[1,{"alg":"x"}]`)) + ".e30.sig", FormOpaque},                 // not an object
		{enc([]byte(`{"x":{"alg":"x"}}`)) + ".e30.sig", FormOpaque},               // alg not at the top
		{enc([]byte(`{"alg":"ES256"`)) + ".e30.sig", FormOpaque},                  // not valid JSON
		{enc([]byte(`{"alg":"none"}`)) + ".e30.", FormJWS},                        // empty signature
		{enc([]byte(` {"typ":"JWT", "\u0061lg" : "RS256"}`)) + ".e30.s", FormJWS}, // escaped name, leading blank
		{enc([]byte(`{"a":[1,"}",{"b":"\""}],"alg":"x"}`)) + ".e30.s", FormJWS},
		{enc([]byte(`{"alg":"RS256"}`)) + "==.e30.s", FormJWS}, // padded header
		{enc([]byte(`{"alg":"RS256"}`)) + ".e30.s.x", FormOpaque},
		{enc([]byte(`{"alg":"RSA-OAEP","enc":"A128GCM"}`)) + ".aa.bb.cc.dd", FormJWE},
		{enc([]byte(`{"alg":"RSA-OAEP","enc":"A128GCM"}`)) + ".aa.b!.cc.dd", FormOpaque}, // undecodable segment
	} {
		k, form := TokenKeyForm(c.tok)
		if form != c.form {
			t.Errorf("%q: form %s, want %s", c.tok, form, c.form)
		}
		if form == FormOpaque && k != Sum(sha256.Sum256([]byte(c.tok))) {
			t.Errorf("%q: an opaque token's key is not its SHA-256", c.tok)
		}
	}
}

func TestTokenKeyDoesNotAllocate(t *testing.T) {
	jws := jwttest.ES256(t, jwttest.Key(t), jwt.MapClaims{"sub": "alice"})
	for _, tok := range []string{strings.Repeat("t", 2000), jws} {
		if n := testing.AllocsPerRun(100, func() { _ = TokenKey(tok) }); n != 0 {
			t.Errorf("TokenKey of a %d-byte token allocates %v times", len(tok), n)
		}
	}
}

func TestJTIKeyIsDomainSeparated(t *testing.T) {
	if JTIKey("ab", "c") == JTIKey("a", "bc") {
		t.Fatal("field boundaries do not separate JWT ID keys")
	}
	if JTIKey("iss", "jti") == TokenKey("iss.jti") || JTIKey("", "") == TokenKey("") {
		t.Fatal("a JWT ID key equals a token key")
	}
}

// FuzzTokenKey compares the allocation-free header reader with
// encoding/json, and checks the JWS key is the signing input's hash.
func FuzzTokenKey(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + ".e30.c2ln")
	f.Add(enc([]byte(`{"\u0061lg":1}`)) + ".e30.")
	f.Add(enc([]byte(`{"alg":"A","enc":"B"}`)) + ".a.b.c.d")
	f.Add("opaque")
	f.Fuzz(func(t *testing.T, tok string) {
		k, form := TokenKeyForm(tok)
		first := strings.IndexByte(tok, '.')
		if form == FormJWS {
			second := first + 1 + strings.IndexByte(tok[first+1:], '.')
			if k != Sum(sha256.Sum256([]byte(tok[:second]))) {
				t.Fatal("JWS key is not the signing input's hash")
			}
		}
		if first <= 0 {
			if form != FormOpaque {
				t.Fatalf("form %s without a header segment", form)
			}
			return
		}
		hdr, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok[:first], "="))
		var m map[string]json.RawMessage
		_, hasAlg := m["alg"]
		if err == nil && json.Unmarshal(hdr, &m) == nil {
			_, hasAlg = m["alg"]
		}
		dots := strings.Count(tok, ".")
		if hasAlg && len(strings.TrimRight(tok[:first], "=")) >= 8 && dots == 2 && form != FormJWS {
			t.Fatalf("encoding/json finds alg in %q but the key is %s", hdr, form)
		}
		if !hasAlg && form != FormOpaque {
			t.Fatalf("encoding/json finds no alg in %q but the key is %s", hdr, form)
		}
	})
}

// FuzzValidJSON compares the allocation-free validator with encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"alg":"x"}`, `[1,2.5e-3,{"a":[true,false,null]}]`, `{"a":"\u00e9\n"}`, `{,}`, `[1,]`, `01`, `"\x"`, ` {} `, `{"a" 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxHeaderDecode {
			return
		}
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}
