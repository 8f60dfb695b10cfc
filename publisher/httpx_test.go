package publisher

import (
	"errors"
	"testing"

	"github.com/revocast/revocast/publisher/auth"
)

// A format wired without an authenticator refuses everyone: a wiring
// mistake fails closed.
func TestDialectOptionsFailClosed(t *testing.T) {
	o := DialectOptions{}.WithDefaults()
	if o.MaxBody != DefaultMaxBody {
		t.Errorf("MaxBody = %d", o.MaxBody)
	}
	p, err := o.Auth.Authenticate(auth.KindClient, "peer", auth.Creds{ID: "admin", Secret: "anything"})
	if p != nil || !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a nil authenticator let %v in (%v)", p, err)
	}
}
