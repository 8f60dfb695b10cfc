package natsauth

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// Init writes the trust with seeds and credentials readable only by their
// owner, and a second Init loads it without replacing a key.
func TestInitWritesOnceAndLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trust")
	tr, out, err := Init(dir)
	if err != nil || out != Generated {
		t.Fatalf("Init = %v, %v; want Generated", out, err)
	}
	mode := func(name string) fs.FileMode {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode("."); m != 0o700 {
		t.Errorf("directory mode %v, want 0700", m)
	}
	secrets := []string{OperatorSeedFile, CredsFile(Operator), CredsFile(Front)}
	for _, r := range Roles {
		secrets = append(secrets, SigningSeedFile(r))
	}
	for _, f := range secrets {
		if m := mode(f); m != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, m)
		}
	}
	files := readAll(t, dir)
	for _, f := range []string{AuthConfFile, OperatorJWTFile, SystemJWTFile, AccountJWTFile} {
		for _, secret := range []string{OperatorSeedFile, SigningSeedFile(Operator), SigningSeedFile(Front),
			SigningSeedFile(Sidecar), SigningSeedFile(Issuer)} {
			if strings.Contains(files[f], strings.TrimSpace(files[secret])) {
				t.Errorf("%s holds the seed of %s", f, secret)
			}
		}
	}
	before := readAll(t, dir)
	tr2, out, err := Init(dir)
	if err != nil || out != Loaded {
		t.Fatalf("second Init = %v, %v; want Loaded", out, err)
	}
	if tr2.Account() != tr.Account() {
		t.Fatal("second Init changed the account")
	}
	if after := readAll(t, dir); !equalMaps(before, after) {
		t.Fatal("second Init rewrote files")
	}
}

// auth.conf is a nats-server configuration fragment: a configuration that
// includes it runs in operator mode with both accounts preloaded.
func TestAuthConfParses(t *testing.T) {
	dir := t.TempDir()
	tr, _, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "node.conf")
	if err := os.WriteFile(conf, []byte("listen: 127.0.0.1:-1\ninclude \"auth.conf\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.TrustedOperators) != 1 || o.SystemAccount != tr.sysPub {
		t.Fatalf("operators %d, system account %q", len(o.TrustedOperators), o.SystemAccount)
	}
	r, ok := o.AccountResolver.(*server.MemAccResolver)
	if !ok {
		t.Fatalf("resolver %T, want memory", o.AccountResolver)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if got, err := r.Fetch(tr.Account()); err != nil || got != tr.AccountJWT() {
		t.Fatalf("preloaded account: %v", err)
	}
}

// When the code's grants change, Init signs the account JWT again with the
// same keys (credentials minted before stay valid) and rewrites auth.conf.
func TestInitUpdatesChangedGrants(t *testing.T) {
	dir := t.TempDir()
	tr, _, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr.withScope(t, Sidecar, func(s *jwt.UserScope) { s.Template.Pub.Allow.Add("revocast.>") })
	if err := writeFile(filepath.Join(dir, AccountJWTFile), []byte(tr.accJWT), 0o644); err != nil {
		t.Fatal(err)
	}
	tr2, out, err := Init(dir)
	if err != nil || out != Updated {
		t.Fatalf("Init = %v, %v; want Updated", out, err)
	}
	_, ac, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !tr2.scopesMatch(ac) || ac.Subject != tr.Account() {
		t.Fatal("the account JWT was not signed again with the current grants and the same key")
	}
	conf, _ := os.ReadFile(filepath.Join(dir, AuthConfFile))
	if !strings.Contains(string(conf), tr2.accJWT) {
		t.Fatal("auth.conf does not carry the new account JWT")
	}
}

// A directory whose files do not belong together is refused, not replaced.
func TestInitRefusesAnInconsistentDirectory(t *testing.T) {
	t.Run("seed without operator JWT", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := Init(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, OperatorJWTFile)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Init(dir); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("err = %v, want ErrInconsistent", err)
		}
	})
	t.Run("another trust's signing seed", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		for _, d := range []string{dir, other} {
			if _, _, err := Init(d); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := os.ReadFile(filepath.Join(other, SigningSeedFile(Sidecar)))
		if err := os.WriteFile(filepath.Join(dir, SigningSeedFile(Sidecar)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Mint(dir, Sidecar, "sc-1", nil)
		if !errors.Is(err, ErrInconsistent) {
			t.Fatalf("err = %v, want ErrInconsistent", err)
		}
		if strings.Contains(err.Error(), strings.TrimSpace(string(b))) {
			t.Fatal("the error shows the seed")
		}
	})
	t.Run("nothing there", func(t *testing.T) {
		if _, err := Mint(t.TempDir(), Sidecar, "sc-1", nil); !errors.Is(err, ErrNotInitialized) {
			t.Fatalf("err = %v, want ErrNotInitialized", err)
		}
	})
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
