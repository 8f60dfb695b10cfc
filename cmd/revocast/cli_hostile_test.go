package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCLI runs the program in-process with an empty environment.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return code, out.String() + errb.String()
}

// TestCLICacheCapacityIsBounded: --cache-capacity 99999999999999 passed
// validation and the sidecar died with "fatal error: runtime: out of
// memory" and a Go stack.
func TestCLICacheCapacityIsBounded(t *testing.T) {
	var o subOpts
	fs := flag.NewFlagSet("subscriber", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.register(fs, "x")
	if err := parseFlags(fs, []string{"--cache-capacity", "99999999999999"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	err := o.validate("REVOCAST")
	if err == nil || !strings.Contains(err.Error(), "--cache-capacity must be 1 to") {
		t.Fatalf("got %v, want --cache-capacity refused with its range", err)
	}
}

// TestCLIByteSizeOverflowIsRefused: --max-body 8796093022208MiB wrapped
// around int64 instead of being refused.
func TestCLIByteSizeOverflowIsRefused(t *testing.T) {
	for _, s := range []string{"8796093022208MiB", "9223372036854775807KiB", "9223372036854775807KB"} {
		var b byteSize
		if err := b.Set(s); err == nil {
			t.Errorf("%s: accepted as %d", s, b)
		}
	}
	var b byteSize
	if err := b.Set("8796093022207MiB"); err != nil || b <= 0 {
		t.Errorf("the largest size that fits: %v %d", err, b)
	}
}

// TestCLIConfigFIFOIsRefused: --config naming a FIFO blocked the command
// forever in open(2), deaf to SIGTERM.
func TestCLIConfigFIFOIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := readConfig(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), p) {
			t.Fatalf("got %v, want the file named and refused", err)
		}
	case <-time.After(10 * time.Second):
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("readConfig blocked on a FIFO")
	}
}

// TestCLIDuplicateFlagIsRefused: nats-init --dir A --dir B wrote the trust
// into B without a word (the flag package lets the last one win).
func TestCLIDuplicateFlagIsRefused(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	code, out := runCLI(t, "nats-init", "--dir", a, "--dir", b)
	if code != 2 || !strings.Contains(out, "-dir: given more than once") {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, d := range []string{a, b} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s was created", d)
		}
	}
	// A repeatable flag still repeats, and the command line still wins
	// over the environment.
	var l stringList
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&l, "realm", "")
	dir := fs.String("dir", "", "")
	env := func(k string) string {
		if k == "REVOCAST_DIR" {
			return "from-env"
		}
		return ""
	}
	if err := parseFlags(fs, []string{"--realm", "a", "--realm", "b", "--dir", "cli"}, env); err != nil || len(l) != 2 || *dir != "cli" {
		t.Fatalf("%v %v %q", err, l, *dir)
	}
}

// TestCLIVersionRefusesArguments: "version --x" printed the version and
// exited 0.
func TestCLIVersionRefusesArguments(t *testing.T) {
	if code, out := runCLI(t, "version", "--x"); code != 2 || !strings.Contains(out, `"--x"`) {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, _ := runCLI(t, "version"); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestCLINATSCredsLongNameIsNotEchoed: a 10 KB --name came back whole in
// the error.
func TestCLINATSCredsLongNameIsNotEchoed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trust")
	if code, out := runCLI(t, "nats-init", "--dir", dir); code != 0 {
		t.Fatalf("nats-init: %d %s", code, out)
	}
	code, out := runCLI(t, "nats-creds", "--dir", dir, "--role", "sidecar", "--name", strings.Repeat("a", 10240))
	if code != 2 || len(out) > 300 || !strings.Contains(out, "(10240 bytes)") {
		t.Fatalf("exit %d, %d bytes: %.300s", code, len(out), out)
	}
}
