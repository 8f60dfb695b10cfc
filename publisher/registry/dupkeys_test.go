package registry

import (
	"errors"
	"strings"
	"testing"
)

// A registration naming a field twice was taken with its last value, as
// POST /v1/revocations was (seen there by the red-team pass): an issuer's
// log, or a proxy reading the first value, would not see what was
// registered.
func TestParseInputRefusesDuplicateNames(t *testing.T) {
	for _, line := range []string{
		`{"token":"a","token":"b","type":"access_token","realm":"r","username":"u","client_id":"c","expires_at":"2099-01-01T00:00:00Z"}`,
		`{"token":"a","type":"access_token","realm":"r","REALM":"s","username":"u","client_id":"c","expires_at":"2099-01-01T00:00:00Z"}`,
	} {
		_, err := ParseInput([]byte(line))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: %v, want the duplicate refused", line, err)
		}
	}
	ok := `{"token":"a","type":"access_token","realm":"r","username":"u","client_id":"c","expires_at":"2099-01-01T00:00:00Z"}`
	if _, err := ParseInput([]byte(ok)); err != nil {
		t.Errorf("%s: %v", ok, err)
	}
}

func BenchmarkParseInput(b *testing.B) {
	line := []byte(`{"token":"opaque-token-0000000000000000000000000000000001","type":"access_token","realm":"r","username":"u","client_id":"c","expires_at":"2099-01-01T00:00:00Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseInput(line); err != nil {
			b.Fatal(err)
		}
	}
}
