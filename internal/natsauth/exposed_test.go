package natsauth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadRefusesAnExposedDirectory: nats-creds minted credentials from a
// world-writable trust directory and from a world-readable signing seed
// without a word (seen from the command line): anyone who can write there
// can swap a role's seed, anyone who can read a seed can mint that role.
func TestLoadRefusesAnExposedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trust")
	if _, _, err := Init(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Mint(dir, Sidecar, "sc-a", nil); err != nil {
		t.Fatalf("a private directory: %v", err)
	}
	mustChmod(t, dir, 0o777)
	if _, err := Mint(dir, Sidecar, "sc-a", nil); !errors.Is(err, ErrExposed) || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("world-writable directory: got %v, want ErrExposed naming chmod 700", err)
	}
	mustChmod(t, dir, 0o700)
	seed := filepath.Join(dir, SigningSeedFile(Sidecar))
	mustChmod(t, seed, 0o644)
	if _, err := Mint(dir, Sidecar, "sc-a", nil); !errors.Is(err, ErrExposed) || !strings.Contains(err.Error(), seed) {
		t.Fatalf("world-readable seed: got %v, want ErrExposed naming %s", err, seed)
	}
	mustChmod(t, seed, 0o600)
}

// TestLoadRefusesASeedThatIsAFIFO: reading a FIFO blocks until a writer
// comes; a seed file must be a small regular file.
func TestLoadRefusesASeedThatIsAFIFO(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trust")
	if _, _, err := Init(dir); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, SigningSeedFile(Issuer))
	if err := os.Remove(seed); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(seed, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(dir); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInconsistent) {
			t.Fatalf("got %v, want ErrInconsistent", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the reader so the test binary can end.
		if f, err := os.OpenFile(seed, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("Load blocked on a FIFO seed")
	}
}

func mustChmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}
