package onelogin

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/revocast/revocast/publisher"
)

// Why a body yields no token.
var (
	// errTokenMissing: the body is not a JSON object, or its access_token is
	// absent, empty or not a string.
	errTokenMissing = errors.New("access token missing")
	// errTokenTooLong: access_token is longer than publisher.MaxTokenLen.
	errTokenTooLong = errors.New("access token too long")
)

// accessToken returns the body's access_token. The body must be a single
// JSON object; unknown fields are ignored, field names are case-sensitive,
// and a repeated access_token counts as its last value (as encoding/json
// reads it).
func accessToken(body []byte) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return "", fmt.Errorf("%w: body is not a JSON object: %w", errTokenMissing, err)
	}
	raw, ok := fields["access_token"]
	if !ok {
		return "", fmt.Errorf("%w: no access_token field", errTokenMissing)
	}
	var tok string
	if err := json.Unmarshal(raw, &tok); err != nil {
		return "", fmt.Errorf("%w: access_token is not a string: %w", errTokenMissing, err)
	}
	if tok == "" { // also a JSON null
		return "", fmt.Errorf("%w: access_token is empty", errTokenMissing)
	}
	if len(tok) > publisher.MaxTokenLen {
		return "", fmt.Errorf("%w: %d bytes, the limit is %d", errTokenTooLong, len(tok), publisher.MaxTokenLen)
	}
	return tok, nil
}
