package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two exports to the same --out (cron runs overlapping, the same minute's
// name) shared FILE.partial, opened with O_TRUNC, so each overwrote the
// other's bytes, and the second rename replaced the first file without
// --force. Each export now writes its own temporary file, and the one that
// finishes second refuses to replace what the first put there.
func TestExportOutNeverClobbersWithoutForce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.ndjson")
	w1, finish1, err := openOut(path, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w2, finish2, err := openOut(path, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w1, strings.Repeat("first\n", 100))
	io.WriteString(w2, "second\n")
	if err := finish1(true); err != nil {
		t.Fatal(err)
	}
	err = finish2(true)
	if err == nil || !strings.Contains(err.Error(), "--out") || !strings.Contains(err.Error(), "appeared while this export ran") {
		t.Fatalf("the second export: %v, want an error saying --out appeared", err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, []byte(strings.Repeat("first\n", 100))) {
		t.Fatalf("the first export's file was changed: %.60q", got)
	}
	if left, _ := filepath.Glob(path + ".partial*"); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	w3, finish3, err := openOut(path, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w3, "forced\n")
	if err := finish3(true); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "forced\n" {
		t.Fatalf("--force: %q", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi.Mode(), err)
	}
}
