package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
)

// nats-init generates once and loads after; nats-creds writes 0600 files,
// never replaces one, refuses bad names and realms (exit status 2), and
// prints no seed unless asked to with --out -.
func TestNATSCommands(t *testing.T) {
	dir, work := filepath.Join(t.TempDir(), "trust"), t.TempDir()
	t.Chdir(work)
	noEnv := func(string) string { return "" }
	cmd := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, noEnv, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, _ := cmd("nats-init", "--dir", dir); code != 0 || !strings.Contains(out, "generated") {
		t.Fatalf("nats-init: %d %s", code, out)
	}
	if code, out, _ := cmd("nats-init", "--dir", dir); code != 0 || !strings.Contains(out, "nothing to change") {
		t.Fatalf("second nats-init: %d %s", code, out)
	}
	code, out, errOut := cmd("nats-creds", "--dir", dir, "--role", "issuer", "--name", "idp-1", "--realm", "realm, with a comma", "--realm", "B")
	if code != 0 || out != "" {
		t.Fatalf("nats-creds: %d %q %q", code, out, errOut)
	}
	fi, err := os.Stat(filepath.Join(work, "idp-1.creds"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("idp-1.creds: %v %v", fi, err)
	}
	creds, _ := os.ReadFile(filepath.Join(work, "idp-1.creds"))
	kp, err := jwt.ParseDecoratedUserNKey(creds)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if strings.Contains(out+errOut, string(seed)) {
		t.Fatal("nats-creds printed the seed")
	}
	s, _ := jwt.ParseDecoratedJWT(creds)
	uc, err := jwt.DecodeUserClaims(s)
	if err != nil || !uc.Tags.Contains(natsauth.RealmTag+events.RealmKey("realm, with a comma")) || len(uc.Tags) != 2 {
		t.Fatalf("claims %v, %v", uc, err)
	}
	if code, _, errOut := cmd("nats-creds", "--dir", dir, "--role", "issuer", "--name", "idp-1", "--realm", "B"); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("replacing a creds file: %d %s", code, errOut)
	}
	for _, args := range [][]string{
		{"--role", "sidecar", "--name", "a.b"},
		{"--role", "sidecar", "--name", "sc", "--realm", "A"},
		{"--role", "issuer", "--name", "idp-2"},
		{"--role", "admin", "--name", "x"},
		{"--role", "sidecar"},
	} {
		if code, _, errOut := cmd(append([]string{"nats-creds", "--dir", dir}, args...)...); code != 2 {
			t.Errorf("nats-creds %v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	code, out, _ = cmd("nats-creds", "--dir", dir, "--role", "sidecar", "--name", "sc-1", "--out", "-")
	if code != 0 || !strings.Contains(out, "NATS USER JWT") || !strings.Contains(out, "USER NKEY SEED") {
		t.Fatalf("--out -: %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(work, "sc-1.creds")); !os.IsNotExist(err) {
		t.Fatal("--out - wrote a file")
	}
}
