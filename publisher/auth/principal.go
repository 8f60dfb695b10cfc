package auth

import (
	"fmt"
	"sort"
	"strings"
)

// Op is something a principal may be allowed to do: use one request format,
// or feed the token registry.
type Op string

// Operations.
const (
	OpElasticsearch Op = "elasticsearch"
	OpOAM           Op = "oam"
	OpOneLogin      Op = "onelogin"
	OpRFC7009       Op = "rfc7009"
	OpRegister      Op = "register"
	OpRevocations   Op = "revocations" // POST /v1/revocations: by JWT ID, key or token
	// OpSSF is a transmitter's (publisher/ssf): signals from identity
	// providers. It is not in Ops: no client, user or API key may be allowed
	// it, and a transmitter is allowed nothing else.
	OpSSF Op = "ssf"
)

// Ops lists every operation.
var Ops = []Op{OpElasticsearch, OpOAM, OpOneLogin, OpRFC7009, OpRegister, OpRevocations}

// Any grants every operation or every realm in a configuration list.
const Any = "*"

// Kind is the kind of credential a principal authenticates with.
type Kind string

// Kinds of credentials.
const (
	KindClient Kind = "client"  // OAuth client id and secret (OAM, OneLogin, RFC 7009, registry)
	KindUser   Kind = "user"    // Elasticsearch user name and password (Basic)
	KindAPIKey Kind = "api_key" // Elasticsearch API key id and key (ApiKey)
	// KindTransmitter is a Shared Signals transmitter's push bearer token,
	// named by the transmitter (publisher/ssf).
	KindTransmitter Kind = "transmitter"
)

// Principal is an authenticated caller and what it may do.
type Principal struct {
	Kind      Kind
	ID        string
	ops       map[Op]bool
	allOps    bool
	realms    map[string]bool
	allRealms bool
}

// NewPrincipal returns a principal allowed ops ("*" for all) in realms ("*" for all).
func NewPrincipal(kind Kind, id string, ops, realms []string) *Principal {
	p := &Principal{Kind: kind, ID: id, ops: map[Op]bool{}, realms: map[string]bool{}}
	for _, o := range ops {
		if o == Any {
			p.allOps = true
		}
		p.ops[Op(o)] = true
	}
	for _, r := range realms {
		if r == Any {
			p.allRealms = true
		}
		p.realms[r] = true
	}
	return p
}

// Superuser returns a principal allowed everything (tests, and the dev admin).
func Superuser(kind Kind, id string) *Principal {
	return NewPrincipal(kind, id, []string{Any}, []string{Any})
}

// Can reports whether the principal may perform op.
func (p *Principal) Can(op Op) bool { return p != nil && (p.allOps || p.ops[op]) }

// InRealm reports whether the principal may act in realm. The empty realm
// (unknown) is allowed only to principals allowed in every realm.
func (p *Principal) InRealm(realm string) bool {
	if p == nil {
		return false
	}
	if p.allRealms {
		return true
	}
	return realm != "" && p.realms[realm]
}

// AllRealms reports whether the principal may act in every realm.
func (p *Principal) AllRealms() bool { return p != nil && p.allRealms }

// Realms lists the realms the principal may act in ("*" for all).
func (p *Principal) Realms() []string {
	if p.allRealms {
		return []string{Any}
	}
	out := make([]string, 0, len(p.realms))
	for r := range p.realms {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// IDOrEmpty returns the principal's id, "" for none.
func (p *Principal) IDOrEmpty() string {
	if p == nil {
		return ""
	}
	return p.ID
}

// String names the principal for logs: "client DemoClientId".
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	return fmt.Sprintf("%s %s", p.Kind, p.ID)
}

func joinOps(ops []Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}
