package natsauth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Files of a trust directory. Seeds and credentials are written with mode
// 0600, the directory with 0700; JWTs and auth.conf hold no secret.
const (
	// AuthConfFile is the nats-server configuration fragment every node
	// includes: operator, system_account, resolver MEMORY, resolver_preload.
	AuthConfFile    = "auth.conf"
	OperatorJWTFile = "operator.jwt"
	// OperatorSeedFile signs the account JWTs again (nats-init after a
	// change of the role grants). Keep it off the NATS hosts and pods.
	OperatorSeedFile = "operator.nk"
	SystemJWTFile    = SystemAccountName + ".jwt"
	AccountJWTFile   = AccountName + ".jwt"
)

// SigningSeedFile is the file of role r's signing seed: whoever holds it
// can mint users of that role.
func SigningSeedFile(r Role) string { return "role-" + string(r) + ".nk" }

// CredsFile is the credentials nats-init writes for the operator and front
// roles (users named "operator" and "front").
func CredsFile(r Role) string { return string(r) + ".creds" }

// Outcome says what Init did.
type Outcome int

// Init outcomes.
const (
	Generated Outcome = iota // a new trust was written
	Loaded                   // the directory was complete and current
	Updated                  // the account JWT was signed again with this code's grants, or files were restored
)

// Init loads the trust in dir, or generates one there when dir holds none.
// Loading is idempotent: keys are never replaced. If the account JWT's
// role grants differ from this code's, the account JWT and auth.conf are
// signed and written again with the same keys (the servers then need a
// configuration reload); missing operator or front credentials are minted.
func Init(dir string) (*Trust, Outcome, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("natsauth: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("natsauth: %w", err)
	}
	t, ac, err := load(dir)
	outcome := Loaded
	switch {
	case errors.Is(err, ErrNotInitialized):
		if t, err = Generate(); err != nil {
			return nil, 0, err
		}
		if err := t.writeKeys(dir); err != nil {
			return nil, 0, err
		}
		outcome = Generated
	case err != nil:
		return nil, 0, err
	case !t.scopesMatch(ac):
		if t.accJWT, err = t.accountClaims().Encode(t.operator); err != nil {
			return nil, 0, fmt.Errorf("natsauth: account JWT: %w", err)
		}
		if err := writeFile(filepath.Join(dir, AccountJWTFile), []byte(t.accJWT+"\n"), 0o644); err != nil {
			return nil, 0, err
		}
		outcome = Updated
	}
	conf := t.authConf()
	if old, err := os.ReadFile(filepath.Join(dir, AuthConfFile)); err != nil || !bytes.Equal(old, conf) {
		if err := writeFile(filepath.Join(dir, AuthConfFile), conf, 0o644); err != nil {
			return nil, 0, err
		}
		if outcome == Loaded {
			outcome = Updated
		}
	}
	for _, r := range []Role{Operator, Front} {
		p := filepath.Join(dir, CredsFile(r))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		creds, err := t.Mint(r, string(r), nil)
		if err != nil {
			return nil, 0, err
		}
		if err := writeFile(p, creds, 0o600); err != nil {
			return nil, 0, err
		}
		if outcome == Loaded {
			outcome = Updated
		}
	}
	return t, outcome, nil
}

// Load reads the trust in dir without changing anything.
func Load(dir string) (*Trust, error) {
	t, _, err := load(dir)
	return t, err
}

// Mint loads the trust in dir and mints credentials with it (Trust.Mint).
func Mint(dir string, role Role, name string, realms []string) ([]byte, error) {
	t, err := Load(dir)
	if err != nil {
		return nil, err
	}
	return t.Mint(role, name, realms)
}

func load(dir string) (*Trust, *jwt.AccountClaims, error) {
	// Whoever may write the directory may swap a seed for their own, and
	// whoever may read a seed may mint any identity of its role.
	if st, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("natsauth: %w", err)
	} else if !st.IsDir() {
		return nil, nil, fmt.Errorf("natsauth: %s is not a directory", dir)
	} else if st.Mode().Perm()&0o022 != 0 {
		return nil, nil, fmt.Errorf("%w: %s is writable by others (mode %#o): chmod 700 it", ErrExposed, dir, st.Mode().Perm())
	}
	opJWT, err := os.ReadFile(filepath.Join(dir, OperatorJWTFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(dir, OperatorSeedFile)); serr == nil {
			return nil, nil, fmt.Errorf("%w: %s without %s", ErrInconsistent, OperatorSeedFile, OperatorJWTFile)
		}
		return nil, nil, fmt.Errorf("%w: %s (run revocast nats-init)", ErrNotInitialized, dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("natsauth: %w", err)
	}
	t := &Trust{operatorJWT: string(bytes.TrimSpace(opJWT)), roles: map[Role]nkeys.KeyPair{}}
	oc, err := jwt.DecodeOperatorClaims(t.operatorJWT)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, OperatorJWTFile, err)
	}
	if t.operator, err = readSeed(filepath.Join(dir, OperatorSeedFile)); err != nil {
		return nil, nil, err
	}
	if pub, _ := t.operator.PublicKey(); pub != oc.Subject {
		return nil, nil, fmt.Errorf("%w: %s is not the operator's seed", ErrInconsistent, OperatorSeedFile)
	}
	var sc, ac *jwt.AccountClaims
	if t.sysJWT, sc, err = readAccount(dir, SystemJWTFile, oc.Subject); err != nil {
		return nil, nil, err
	}
	if t.accJWT, ac, err = readAccount(dir, AccountJWTFile, oc.Subject); err != nil {
		return nil, nil, err
	}
	t.sysPub, t.accPub = sc.Subject, ac.Subject
	if oc.SystemAccount != t.sysPub {
		return nil, nil, fmt.Errorf("%w: %s is not the operator's system account", ErrInconsistent, SystemJWTFile)
	}
	for _, r := range Roles {
		kp, err := readSeed(filepath.Join(dir, SigningSeedFile(r)))
		if err != nil {
			return nil, nil, err
		}
		pub, _ := kp.PublicKey()
		if s, ok := ac.SigningKeys.GetScope(pub); !ok || s == nil {
			return nil, nil, fmt.Errorf("%w: %s is not a scoped signing key of %s", ErrInconsistent, SigningSeedFile(r), AccountJWTFile)
		}
		t.roles[r] = kp
	}
	return t, ac, nil
}

func readSeed(path string) (nkeys.KeyPair, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInconsistent, err)
	}
	switch {
	case !st.Mode().IsRegular() || st.Size() > 4096:
		return nil, fmt.Errorf("%w: %s is not a seed file (a regular file of at most 4096 bytes)", ErrInconsistent, path)
	case st.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%w: %s is open to other users (mode %#o): chmod 600 it", ErrExposed, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInconsistent, err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(b))
	if err != nil {
		// The error names the file, never its contents.
		return nil, fmt.Errorf("%w: %s does not hold a seed", ErrInconsistent, filepath.Base(path))
	}
	return kp, nil
}

func readAccount(dir, file, operator string) (string, *jwt.AccountClaims, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrInconsistent, err)
	}
	s := string(bytes.TrimSpace(b))
	ac, err := jwt.DecodeAccountClaims(s)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, file, err)
	}
	if ac.Issuer != operator {
		return "", nil, fmt.Errorf("%w: %s is not signed by the operator", ErrInconsistent, file)
	}
	return s, ac, nil
}

// writeKeys writes a new trust's JWTs and seeds, never over an existing
// file. The operator JWT goes last: a directory holding it is complete.
func (t *Trust) writeKeys(dir string) error {
	type file struct {
		name string
		data []byte
		mode fs.FileMode
	}
	opSeed, _ := t.operator.Seed()
	files := []file{{OperatorSeedFile, opSeed, 0o600}}
	for _, r := range Roles {
		seed, _ := t.roles[r].Seed()
		files = append(files, file{SigningSeedFile(r), seed, 0o600})
	}
	files = append(files,
		file{SystemJWTFile, []byte(t.sysJWT), 0o644},
		file{AccountJWTFile, []byte(t.accJWT), 0o644},
		file{OperatorJWTFile, []byte(t.operatorJWT), 0o644})
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f.name)); err == nil {
			return fmt.Errorf("%w: %s exists but %s does not", ErrInconsistent, f.name, OperatorJWTFile)
		}
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), append(f.data, '\n'), f.mode); err != nil {
			return err
		}
	}
	return nil
}

// authConf renders the nats-server configuration fragment.
func (t *Trust) authConf() []byte {
	var b bytes.Buffer
	b.WriteString("# Written by \"revocast nats-init\": operator-mode trust for revocast's NATS servers.\n")
	b.WriteString("# Public keys and JWTs only, no secret. Every node includes this same file.\n")
	fmt.Fprintf(&b, "operator: %q\n", t.operatorJWT)
	fmt.Fprintf(&b, "system_account: %s\n", t.sysPub)
	b.WriteString("resolver: MEMORY\n")
	b.WriteString("resolver_preload: {\n")
	fmt.Fprintf(&b, "  %s: %q\n", t.sysPub, t.sysJWT)
	fmt.Fprintf(&b, "  %s: %q\n", t.accPub, t.accJWT)
	b.WriteString("}\n")
	return b.Bytes()
}

// writeFile replaces path atomically with data at mode: a temporary file
// (created 0600) in the same directory, then a rename.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close(), os.Chmod(tmp, mode)); err != nil {
		return fmt.Errorf("natsauth: write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	return nil
}
