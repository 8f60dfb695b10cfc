package revocations

import (
	"strings"
	"testing"

	"github.com/revocast/revocast/events"
)

func TestParse(t *testing.T) {
	sum := events.TokenKey("tok").String()
	for body, want := range map[string]string{
		`{"jwt_id":{"iss":"https://idp","jti":"42"},"expires_at":"2030-01-01T00:00:00Z"}`: "",
		`{"token_sha256":"` + sum + `"}`: "",
		`{"token":"tok","realm":"A"}`:    "",
		`{}`:                             "exactly one",
		`{"token":"a","token_sha256":"` + sum + `"}`:               "exactly one",
		`{"jwt_id":{"iss":"","jti":"1"}}`:                          "jwt_id needs iss and jti",
		`{"token_sha256":"raw-token-oops"}`:                        "SHA-256",
		`{"token":"t","colour":"blue"}`:                            "unknown field",
		`{"token":"t"} {"token":"u"}`:                              "one JSON object",
		`{"jwt_id":{"iss":"i","jti":"j"},"expires_at":"tomorrow"}`: "RFC 3339",
	} {
		req, err := Parse([]byte(body))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", body, err, want)
		case want == "" && req.Validate() != nil:
			t.Errorf("%s: invalid canonical request: %v", body, req.Validate())
		}
		if err != nil && strings.Contains(err.Error(), "raw-token-oops") {
			t.Errorf("%s: the error echoes the value", body)
		}
	}
	req, _ := Parse([]byte(`{"jwt_id":{"iss":"https://idp","jti":"42"}}`))
	if req.JWTID == nil || req.JWTID.Issuer != "https://idp" || req.JWTID.ID != "42" {
		t.Fatalf("jwt_id: %+v", req.JWTID)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"jwt_id":{"iss":"https://idp","jti":"42"},"expires_at":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"token":"abc","realm":"r"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := Parse(b)
		if err == nil {
			if verr := req.Validate(); verr != nil {
				t.Fatalf("Parse accepted a request the core refuses: %v", verr)
			}
		}
	})
}
