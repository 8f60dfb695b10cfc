package natsauth

import (
	"fmt"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// ClientOptions returns the options of a client of role r named name (its
// sidecar id or issuer name; ignored for the operator and front roles): the
// credentials in credsFile and the inbox prefix the role may subscribe to.
// A client that uses other inboxes is refused by the server.
func ClientOptions(credsFile string, r Role, name string) []nats.Option {
	return []nats.Option{nats.UserCredentials(credsFile), nats.CustomInboxPrefix(InboxPrefix(r, name))}
}

// CredsOptions is ClientOptions for credentials held in memory, as minted
// by Trust.Mint for a component connecting to an embedded server. The seed
// stays in its key pair; only signatures of the server's nonce leave it.
func CredsOptions(creds []byte, r Role, name string) ([]nats.Option, error) {
	userJWT, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		return nil, fmt.Errorf("natsauth: credentials: %w", err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(creds)
	if err != nil {
		return nil, fmt.Errorf("natsauth: credentials: %w", err)
	}
	return []nats.Option{
		nats.UserJWT(func() (string, error) { return userJWT, nil }, kp.Sign),
		nats.CustomInboxPrefix(InboxPrefix(r, name)),
	}, nil
}
