package deployments_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/revocast/revocast/publisher/auth"
)

// placeholder is an example's stand-in for a hash, up to its closing quote.
var placeholder = regexp.MustCompile(`REPLACE-ME[^"'\n]*`)

// withHashes replaces every placeholder with the hash of a fresh random
// secret, as the example tells its reader to.
func withHashes(t *testing.T, config string) string {
	t.Helper()
	if !placeholder.MatchString(config) {
		t.Fatal("the example has no REPLACE-ME placeholder")
	}
	return placeholder.ReplaceAllStringFunc(config, func(string) string {
		h, err := auth.HashSecret(auth.GenerateSecret())
		if err != nil {
			t.Fatal(err)
		}
		return h
	})
}

// frontConfigError has the binary read a --config file the way the front
// does at start-up, and returns what it refuses (nil for a valid one). The
// log level it is given is invalid, and checked only after the config file
// was read, so the front stops there, before it listens or connects.
func frontConfigError(t *testing.T, config string) error {
	t.Helper()
	file := filepath.Join(t.TempDir(), "revocast.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(revocast, "publisher", "--config="+file, "--log-level=no-such-level", "--publisher-addr=127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case !errors.As(err, &exit) || exit.ExitCode() != 2:
		t.Fatalf("revocast publisher with a bad log level: %v\n%s", err, out.String())
	case strings.Contains(out.String(), "--log-level: unknown level"):
		return nil
	}
	return errors.New(strings.TrimSpace(out.String()))
}

// checkConfigExample: the example is refused as shipped (a placeholder is no
// hash) and accepted once each placeholder is replaced by a hash.
func checkConfigExample(t *testing.T, config string) {
	t.Helper()
	if err := frontConfigError(t, config); err == nil || !strings.Contains(err.Error(), "revocast hash-secret") {
		t.Errorf("the front accepts the example with its placeholders, or says nothing of hash-secret: %v", err)
	}
	if err := frontConfigError(t, withHashes(t, config)); err != nil {
		t.Errorf("the example with hashes: %v", err)
	}
}

// TestConfigCheckFails shows the check above refuses a misspelled key.
func TestConfigCheckFails(t *testing.T) {
	good := "clients:\n  - id: a\n    secret_hash: \"REPLACE-ME\"\n    allow: [\"*\"]\n    realms: [\"*\"]\n"
	if err := frontConfigError(t, withHashes(t, good)); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	if err := frontConfigError(t, withHashes(t, strings.Replace(good, "realms", "realm", 1))); err == nil {
		t.Error("a misspelled key is accepted")
	}
}
