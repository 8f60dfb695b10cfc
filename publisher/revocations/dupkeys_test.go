package revocations

import (
	"strings"
	"testing"
)

// TestParseRefusesDuplicateNames: {"token":"abc","token":"def"} answered
// 200 and revoked def (seen on revocast dev): the last name won, so what a
// log or a reviewer read first was not what was revoked.
func TestParseRefusesDuplicateNames(t *testing.T) {
	for _, body := range []string{
		`{"token":"abc","token":"def"}`,
		`{"token":"abc","TOKEN":"def"}`,
		`{"jwt_id":{"iss":"a","jti":"b","jti":"c"}}`,
		`{"jwt_id":{"iss":"a","jti":"b"},"jwt_id":{"iss":"a","jti":"c"}}`,
	} {
		if _, err := Parse([]byte(body)); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: got %v, want the duplicate named", body, err)
		}
	}
	for _, body := range []string{
		`{"jwt_id":{"iss":"a","jti":"b"},"realm":"r"}`,
		`{"token":"abc","expires_at":"2099-01-01T00:00:00Z"}`,
	} {
		if _, err := Parse([]byte(body)); err != nil && strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: %v", body, err)
		}
	}
}
