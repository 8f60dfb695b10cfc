package natsauth

import (
	"fmt"

	"github.com/revocast/revocast/events"
)

// Role is one of the four identities on the bus.
type Role string

// The roles. Each is a scoped signing key of the REVOCAST account.
const (
	// Operator ("revocast init", a front with --manage-streams) is the only
	// identity that may create, update, purge or delete the streams and the
	// bucket.
	Operator Role = "operator"
	// Front writes revocations, ledger marks and the registry, and reads
	// what the fronts count and watch.
	Front Role = "front"
	// Sidecar replays and follows the revocation stream through the one
	// consumer named after it, and speaks only for itself.
	Sidecar Role = "sidecar"
	// Issuer registers tokens in the realms its credentials name.
	Issuer Role = "issuer"
)

// Roles lists every role.
var Roles = []Role{Operator, Front, Sidecar, Issuer}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w %q (want operator, front, sidecar or issuer)", ErrUnknownRole, s)
}

// Names the permissions are written for: the default stream, ledger and
// bucket names ("revocast publisher --stream" must stay at its default).
const (
	// Bucket is the registry's KeyValue bucket (publisher/registry.DefaultBucket).
	Bucket = "REVOCAST_TOKENS"
	// StatusPrefix starts every sidecar status subject:
	// revocast.status.<id>.heartbeat, .applied and .outcome.<front origin>.
	StatusPrefix = "revocast.status."
	// RegistryPrefix starts the registry bus subjects, one per realm:
	// revocast.registry.<events.RealmKey(realm)>.
	RegistryPrefix = "revocast.registry."
	// RealmTag is the user JWT tag prefix naming a realm key an issuer may
	// register in ("realm:<key>").
	RealmTag = "realm:"
)

var (
	stream   = events.DefaultStreamName
	ledger   = events.StreamOptions{}.LedgerName()
	kvStream = "KV_" + Bucket
)

// InboxPrefix returns the inbox prefix (nats.CustomInboxPrefix) a client
// of role r named name must use: the only inboxes it may subscribe to are
// under it. Sidecars and issuers get one each, under a role token, so no
// name can reach another role's inboxes (a sidecar named "front" does not
// get "_INBOX_front").
func InboxPrefix(r Role, name string) string {
	switch r {
	case Operator:
		return "_INBOX_operator"
	case Front:
		return "_INBOX_front"
	case Sidecar:
		return "_INBOX_sidecar." + name
	case Issuer:
		return "_INBOX_issuer." + name
	}
	return ""
}

// Grant is a role's permission template, as written into its scoped
// signing key in the account JWT.
type Grant struct {
	Pub []string
	Sub []string
}

// GrantOf returns role r's permissions. {{name()}} is the user's name (a
// sidecar id or an issuer name), {{tag(realm)}} each realm key the user JWT
// carries as a "realm:<key>" tag.
func GrantOf(r Role) Grant {
	switch r {
	case Operator:
		return Grant{
			Pub: []string{
				"$JS.API.>",
				"revocast.>",
				"$KV." + Bucket + ".>",
				"$JS.FC." + kvStream + ".>",
				"_INBOX_issuer.*.>",
			},
			Sub: []string{"revocast.>", InboxPrefix(Operator, "") + ".>"},
		}
	case Front:
		pub := []string{
			events.StreamSubjects,
			events.LedgerSubjects,
			"$KV." + Bucket + ".>",
			events.PresenceProbeSubject,
			// Answers to issuers' registry requests (see README: why not allow_responses).
			"_INBOX_issuer.*.>",
			"$JS.API.STREAM.INFO." + stream,
		}
		for _, s := range []string{ledger, kvStream} {
			pub = append(pub,
				"$JS.API.STREAM.INFO."+s,
				"$JS.API.STREAM.MSG.GET."+s,
				"$JS.API.DIRECT.GET."+s,
				"$JS.API.DIRECT.GET."+s+".>",
				"$JS.API.CONSUMER.CREATE."+s+".>",
				"$JS.API.CONSUMER.INFO."+s+".*",
				"$JS.API.CONSUMER.MSG.NEXT."+s+".*",
				"$JS.API.CONSUMER.DELETE."+s+".*",
			)
		}
		// A KeyValue watch is a push consumer with flow control: the client
		// answers the server's flow-control messages on $JS.FC.
		pub = append(pub, "$JS.FC."+kvStream+".>")
		return Grant{
			Pub: pub,
			Sub: []string{StatusPrefix + ">", RegistryPrefix + "*", InboxPrefix(Front, "") + ".>"},
		}
	case Sidecar:
		const id = "{{name()}}"
		return Grant{
			Pub: []string{
				"$JS.API.STREAM.INFO." + stream,
				"$JS.API.CONSUMER.CREATE." + stream + "." + id,
				"$JS.API.CONSUMER.INFO." + stream + "." + id,
				"$JS.API.CONSUMER.MSG.NEXT." + stream + "." + id,
				"$JS.API.CONSUMER.DELETE." + stream + "." + id,
				StatusPrefix + id + ".>",
			},
			Sub: []string{events.PresenceProbeSubject, InboxPrefix(Sidecar, id) + ".>"},
		}
	case Issuer:
		return Grant{
			Pub: []string{RegistryPrefix + "{{tag(realm)}}"},
			Sub: []string{InboxPrefix(Issuer, "{{name()}}") + ".>"},
		}
	}
	return Grant{}
}

// SidecarConsumer returns the name of the only consumer sidecar id may
// create, read, pull from and delete on the revocation stream: its id.
// NATS permissions match whole subject tokens, so "<id>_*" (nats.go's
// ordered-consumer names) cannot be granted; see the README.
func SidecarConsumer(id string) string { return id }
