package subscriber

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// POST /v1/check takes one JSON object and nothing after it (seen: a
// second object or trailing bytes were ignored, so
// {"token":"x"}{"token":"revoked-token"} answered "not revoked").
func TestPostCheckRefusesTrailingData(t *testing.T) {
	e := newEnv(t)
	e.append(t, revokeToken("revoked-token"))
	s := startSub(t, e, Config{}, nil)
	waitReady(t, s)
	srv := httptest.NewServer(s.Handler(nil))
	defer srv.Close()
	for _, body := range []string{
		`{"token":"x"}{"token":"revoked-token"}`,
		`{"token":"x"} {"token":"revoked-token"}`,
		`{"token":"revoked-token"}garbage`,
		`{"token":"revoked-token"}]`,
	} {
		resp, err := srv.Client().Post(srv.URL+"/v1/check", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", body, resp.StatusCode)
		}
	}
	resp, err := srv.Client().Post(srv.URL+"/v1/check", "application/json", strings.NewReader("{\"token\":\"revoked-token\"}\n\t "))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("trailing whitespace: %d, want 200", resp.StatusCode)
	}
}
