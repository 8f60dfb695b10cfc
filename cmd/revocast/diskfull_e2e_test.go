package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountSmall mounts a tmpfs of size bytes at a new directory, for as long as
// the test runs (root only; CI requires it with REVOCAST_REQUIRE_MOUNT=1).
func mountSmall(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("REVOCAST_REQUIRE_MOUNT") == "1" {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v: %s); set REVOCAST_REQUIRE_MOUNT=1 to make this a failure", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// Seen: with the data directory on a full filesystem every revocation got
// 503 (right) but both /readyz stayed 200, and after space was freed nothing
// recovered until a restart. Now the front's /readyz says why it cannot
// store, revocast dev restarts JetStream once there is room, and nothing
// stored before is lost.
func TestE2EDiskFullIsUnreadyAndRecovers(t *testing.T) {
	mnt := mountSmall(t, "32m")
	data := filepath.Join(mnt, "data")
	d := startDev(t, data, nil, "--publish-timeout", "2s")
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	for i := 0; i < 3; i++ {
		if r := esRevoke(t, d.front, fmt.Sprintf(`{"token":"before-full-%d"}`, i)); r.code != 200 {
			t.Fatalf("revoke: %d %s", r.code, r.body)
		}
	}
	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	payload := strings.Repeat("x", 8000) // fills the last free blocks quickly
	refused := false
	for i := 0; i < 200 && !refused; i++ {
		refused = esRevoke(t, d.front, fmt.Sprintf(`{"token":"full-%d-%s"}`, i, payload)).code == 503
	}
	if !refused {
		t.Fatal("revocations still succeed on a full disk")
	}
	waitFor(t, "the front unready with the reason", func() bool {
		r := httpDo(t, "GET", d.front+"/readyz", "", "")
		return r.code == 503 && (strings.Contains(r.body, "cannot write") || strings.Contains(r.body, "publishing has failed"))
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the front ready again, without a restart", func() bool {
		return httpDo(t, "GET", d.front+"/readyz", "", "").code == 200
	})
	if r := esRevoke(t, d.front, `{"token":"after-recovery"}`); r.code != 200 {
		t.Fatalf("revoke after the recovery: %d %s", r.code, r.body)
	}
	waitFor(t, "the new revocation enforced", func() bool { return check(d.side, "after-recovery") == 401 })
	d.stop()
	d2 := startDev(t, data, nil)
	waitFor(t, "sidecar ready after a restart", func() bool { return httpDo(t, "GET", d2.side+"/readyz", "", "").code == 200 })
	for _, tok := range []string{"before-full-0", "before-full-1", "before-full-2", "after-recovery"} {
		if c := check(d2.side, tok); c != 401 {
			t.Fatalf("%s after the disk was full and a restart: %d", tok, c)
		}
	}
}
