package natsauth

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/revocast/revocast/events"
)

// Errors.
var (
	// ErrUnknownRole: a role other than operator, front, sidecar or issuer.
	ErrUnknownRole = errors.New("unknown role")
	// ErrInvalidName: a user name that is not a subject token (events.ValidID).
	ErrInvalidName = errors.New("invalid name")
	// ErrRealms: an issuer without realms, a realm for another role, an
	// empty realm name, or more realms than one set of credentials can carry.
	ErrRealms = errors.New("invalid realms")
	// ErrNotInitialized: the directory holds no trust ("revocast nats-init").
	ErrNotInitialized = errors.New("no NATS trust in this directory")
	// ErrInconsistent: the directory's files do not belong together.
	ErrInconsistent = errors.New("inconsistent NATS trust directory")
	// ErrExposed: the directory or a seed in it is open to other users.
	ErrExposed = errors.New("NATS trust directory open to other users")
)

// Account names.
const (
	OperatorName      = "revocast"
	SystemAccountName = "SYS"
	AccountName       = "REVOCAST"
)

// maxUserJWT bounds a minted user JWT: the client sends it in its CONNECT
// line, which nats-server caps at max_control_line (4096 bytes by default)
// together with the signature and the client's options. About 50 realms fit.
const maxUserJWT = 3072

// Trust is the operator, the two accounts and the role signing keys. The
// operator's seed is kept so the account JWT can be signed again (new role
// grants, revocations); the accounts' own seeds are not needed and not kept.
type Trust struct {
	operator    nkeys.KeyPair
	operatorJWT string
	sysPub      string
	sysJWT      string
	accPub      string
	accJWT      string
	roles       map[Role]nkeys.KeyPair
}

// Generate creates a new operator, system account and REVOCAST account with
// one scoped signing key per role.
func Generate() (*Trust, error) {
	op, err := nkeys.CreateOperator()
	if err != nil {
		return nil, fmt.Errorf("natsauth: operator key: %w", err)
	}
	t := &Trust{operator: op, roles: map[Role]nkeys.KeyPair{}}
	opPub, _ := op.PublicKey()
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("natsauth: system account key: %w", err)
	}
	acc, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("natsauth: account key: %w", err)
	}
	t.sysPub, _ = sys.PublicKey()
	t.accPub, _ = acc.PublicKey()
	for _, r := range Roles {
		if t.roles[r], err = nkeys.CreateAccount(); err != nil {
			return nil, fmt.Errorf("natsauth: %s signing key: %w", r, err)
		}
	}
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = OperatorName
	oc.SystemAccount = t.sysPub
	if t.operatorJWT, err = oc.Encode(op); err != nil {
		return nil, fmt.Errorf("natsauth: operator JWT: %w", err)
	}
	sc := jwt.NewAccountClaims(t.sysPub)
	sc.Name = SystemAccountName
	if t.sysJWT, err = sc.Encode(op); err != nil {
		return nil, fmt.Errorf("natsauth: system account JWT: %w", err)
	}
	if t.accJWT, err = t.accountClaims().Encode(op); err != nil {
		return nil, fmt.Errorf("natsauth: account JWT: %w", err)
	}
	return t, nil
}

// accountClaims is the REVOCAST account as this code defines it: unlimited
// JetStream, nothing for users that no role key signed, one scope per role.
func (t *Trust) accountClaims() *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(t.accPub)
	ac.Name = AccountName
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		DiskStorage: jwt.NoLimit, MemoryStorage: jwt.NoLimit, Streams: jwt.NoLimit, Consumer: jwt.NoLimit,
		MaxAckPending: jwt.NoLimit, MemoryMaxStreamBytes: jwt.NoLimit, DiskMaxStreamBytes: jwt.NoLimit,
	}
	// A user signed by anything but a role key (the account key, whose
	// seed is discarded) may do nothing.
	ac.DefaultPermissions.Pub.Deny.Add(">")
	ac.DefaultPermissions.Sub.Deny.Add(">")
	for _, r := range Roles {
		pub, _ := t.roles[r].PublicKey()
		s := jwt.NewUserScope()
		s.Key = pub
		s.Role = string(r)
		s.Description = "revocast " + string(r)
		g := GrantOf(r)
		s.Template.Pub.Allow.Add(g.Pub...)
		s.Template.Sub.Allow.Add(g.Sub...)
		s.Template.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard, jwt.ConnectionTypeInProcess)
		ac.SigningKeys.AddScopedSigner(s)
	}
	return ac
}

// Mint returns credentials (a creds file's contents: user JWT and seed) for
// a user of role r named name. Sidecars are named by their id, issuers by
// their name; an issuer's realms (names, hashed to realm keys) are the only
// registry subjects it may publish to.
func (t *Trust) Mint(r Role, name string, realms []string) ([]byte, error) {
	if _, err := ParseRole(string(r)); err != nil {
		return nil, err
	}
	if err := events.ValidID(name); err != nil {
		return nil, fmt.Errorf("%w %s: 1 to 64 characters of A-Z a-z 0-9 _ -", ErrInvalidName, quoteShort(name))
	}
	switch {
	case r == Issuer && len(realms) == 0:
		return nil, fmt.Errorf("%w: an issuer needs at least one realm", ErrRealms)
	case r != Issuer && len(realms) > 0:
		return nil, fmt.Errorf("%w: only issuers have realms", ErrRealms)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("natsauth: user key: %w", err)
	}
	userPub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(userPub)
	uc.SetScoped(true) // the role's template is the user's permissions
	uc.Name = name
	uc.IssuerAccount = t.accPub
	for _, realm := range realms {
		if realm == "" {
			return nil, fmt.Errorf("%w: empty realm name", ErrRealms)
		}
		uc.Tags.Add(RealmTag + events.RealmKey(realm))
	}
	signed, err := uc.Encode(t.roles[r])
	if err != nil {
		return nil, fmt.Errorf("natsauth: user JWT: %w", err)
	}
	if len(signed) > maxUserJWT {
		return nil, fmt.Errorf("%w: %d realms make a %d-byte JWT, more than a client may send (%d); mint several credentials",
			ErrRealms, len(realms), len(signed), maxUserJWT)
	}
	seed, err := user.Seed()
	if err != nil {
		return nil, fmt.Errorf("natsauth: user seed: %w", err)
	}
	creds, err := jwt.FormatUserConfig(signed, seed)
	if err != nil {
		return nil, fmt.Errorf("natsauth: creds: %w", err)
	}
	return creds, nil
}

// Account returns the REVOCAST account's public key.
func (t *Trust) Account() string { return t.accPub }

// AccountJWT returns the REVOCAST account's JWT.
func (t *Trust) AccountJWT() string { return t.accJWT }

// ConfigureServer puts the server into operator mode with this trust: the
// operator, the system account and a memory resolver holding both account
// JWTs, as auth.conf does for a server started from a configuration file.
// It is how "revocast dev" embeds a server its components reach with
// minted credentials.
func (t *Trust) ConfigureServer(o *server.Options) error {
	oc, err := jwt.DecodeOperatorClaims(t.operatorJWT)
	if err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	r := &server.MemAccResolver{}
	for _, a := range [][2]string{{t.sysPub, t.sysJWT}, {t.accPub, t.accJWT}} {
		if err := r.Store(a[0], a[1]); err != nil {
			return fmt.Errorf("natsauth: %w", err)
		}
	}
	o.TrustedOperators = []*jwt.OperatorClaims{oc}
	o.SystemAccount = t.sysPub
	o.AccountResolver = r
	return nil
}

// scopesMatch reports whether the account JWT carries exactly the role
// scopes this code defines (same keys, same grants).
func (t *Trust) scopesMatch(ac *jwt.AccountClaims) bool {
	want := t.accountClaims()
	if len(ac.SigningKeys) != len(want.SigningKeys) {
		return false
	}
	for k, ws := range want.SigningKeys {
		got, ok := ac.SigningKeys.GetScope(k)
		if !ok {
			return false
		}
		g, gok := got.(*jwt.UserScope)
		w := ws.(*jwt.UserScope)
		if !gok || g.Role != w.Role || !sameList(g.Template.Pub.Allow, w.Template.Pub.Allow) ||
			!sameList(g.Template.Sub.Allow, w.Template.Sub.Allow) || len(g.Template.Pub.Deny) != 0 ||
			len(g.Template.Sub.Deny) != 0 || g.Template.Resp != nil ||
			!sameList(g.Template.AllowedConnectionTypes, w.Template.AllowedConnectionTypes) {
			return false
		}
	}
	return sameList(ac.DefaultPermissions.Pub.Deny, want.DefaultPermissions.Pub.Deny) &&
		sameList(ac.DefaultPermissions.Sub.Deny, want.DefaultPermissions.Sub.Deny) &&
		ac.Limits.JetStreamLimits == want.Limits.JetStreamLimits
}

func sameList[S ~[]string](a, b S) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// quoteShort quotes a name for an error, cut to 64 bytes: a 10 KB name
// must not fill the terminal.
func quoteShort(s string) string {
	if len(s) <= 64 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:64], len(s))
}
