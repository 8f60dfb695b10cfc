package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needPodman returns podman's path, or skips the test (fails it with
// REVOCAST_REQUIRE_PODMAN=1, as .ci/run sets).
func needPodman(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("podman")
	why := "needs podman (apt-get install podman; .ci/run installs it)"
	if err == nil && os.Geteuid() != 0 {
		why, err = "needs root (podman image mount, chroot)", os.ErrPermission
	}
	if err != nil {
		if os.Getenv("REVOCAST_REQUIRE_PODMAN") == "1" {
			t.Fatalf("%s (REVOCAST_REQUIRE_PODMAN=1)", why)
		}
		t.Skip(why)
	}
	return path
}

// runCmd runs a command for at most limit and returns its standard output.
func runCmd(t *testing.T, limit time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), &cmdError{cmd: name + " " + strings.Join(args, " "), err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return string(out), nil
}

type cmdError struct {
	cmd, stderr string
	err         error
}

func (e *cmdError) Error() string { return e.cmd + ": " + e.err.Error() + ": " + e.stderr }
func (e *cmdError) Unwrap() error { return e.err }

// mustRun is runCmd failing the test on an error.
func mustRun(t *testing.T, limit time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runCmd(t, limit, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The image from deployments/container/Containerfile.local, built with
// podman from a static binary as make image does: its user, entrypoint and
// labels; then the image's own binary runs revocast dev, and a token revoked
// through its front is denied by its sidecar.
//
// "podman run" cannot work on the machine this was written on: crun fails
// with "setrlimit `RLIMIT_NOFILE`: Operation not permitted" (and, with the
// limit lowered, RLIMIT_NPROC, then "cgroups in hybrid mode not supported"):
// the sandbox has no CAP_SYS_RESOURCE and a hybrid cgroup layout. So the test
// tries "podman run" once (and uses it when it works), then runs the image
// the closest way this machine allows: the image's root filesystem (podman
// image mount), copied to a temporary root with an empty /data owned by the
// image's user, entered with chroot and the image's user and group (65532,
// no supplementary groups) set before exec, in the host's network
// namespace on loopback ports. Only the image's files are used. (setpriv
// --reuid before chroot cannot work: an unprivileged process may not chroot;
// the process attributes below do the same thing in the right order.)
func TestImageBuildsAndRunsAsNonRoot(t *testing.T) {
	podman := needPodman(t)
	began := time.Now()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	version := "test-" + hex.EncodeToString(suffix)
	tag := "localhost/revocast-test:" + version

	// The build context is laid out like the repository: bin/revocast and
	// deployments/container/.
	buildCtx := t.TempDir()
	mustRun(t, 5*time.Minute, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version, "-o", filepath.Join(buildCtx, "bin", "revocast"), ".")
	for _, f := range []string{"Containerfile.local", "passwd", "group"} {
		b, err := os.ReadFile(filepath.Join("../../deployments/container", f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(buildCtx, "deployments", "container", f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	built := time.Now()
	mustRun(t, 2*time.Minute, nil, podman, "build", "-q", "--layers=false", "-f", filepath.Join(buildCtx, "deployments/container/Containerfile.local"),
		"--build-arg", "VERSION="+version, "-t", tag, buildCtx)
	t.Cleanup(func() { _, _ = runCmd(t, time.Minute, nil, podman, "rmi", "-f", tag) })

	var inspect []struct {
		Config struct {
			User        string
			Entrypoint  []string
			Cmd         []string
			Labels      map[string]string
			Healthcheck any
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, time.Minute, nil, podman, "image", "inspect", tag)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	cfg := inspect[0].Config
	if cfg.User != "65532:65532" || !slices.Equal(cfg.Entrypoint, []string{"/revocast"}) || len(cfg.Cmd) != 0 || cfg.Healthcheck != nil {
		t.Errorf("image config: user %q, entrypoint %q, cmd %q, healthcheck %v", cfg.User, cfg.Entrypoint, cfg.Cmd, cfg.Healthcheck)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.title":    "revocast",
		"org.opencontainers.image.source":   "https://github.com/revocast/revocast",
		"org.opencontainers.image.licenses": "NOASSERTION",
	} {
		if cfg.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cfg.Labels[k], want)
		}
	}

	if out, err := runCmd(t, 30*time.Second, nil, podman, "run", "--rm", tag, "version"); err == nil {
		if strings.TrimSpace(out) != "revocast "+version {
			t.Errorf("podman run %s version: %q", tag, out)
		}
	} else {
		t.Logf("podman run does not work here (expected in this sandbox): %v", err)
	}

	mnt := strings.TrimSpace(mustRun(t, time.Minute, nil, podman, "image", "mount", tag))
	t.Cleanup(func() { _, _ = runCmd(t, time.Minute, nil, podman, "image", "unmount", tag) })
	var files []string
	if err := filepath.WalkDir(mnt, func(p string, _ fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(mnt, p)
		files = append(files, rel)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{".", "etc", "etc/group", "etc/passwd", "revocast"}; !slices.Equal(files, want) {
		t.Errorf("the image holds %q, want only %q (no shell, nothing else)", files, want)
	}
	root := filepath.Join(t.TempDir(), "root")
	mustRun(t, time.Minute, nil, "cp", "-a", mnt+"/.", root)
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(root, "data"), 65532, 65532); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("/revocast", "dev", "--data-dir", "/data", "--publisher-addr", "127.0.0.1:0",
		"--subscriber-addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0")
	cmd.Env = []string{"REVOCAST_DEV_CLIENT=" + testID + ":" + testSecret} // nothing from this environment
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root,
		Credential: &syscall.Credential{Uid: 65532, Gid: 65532, Groups: []uint32{}}}
	p := startCmd(t, cmd)
	front := p.addr("publisher")
	side := p.addr("subscriber")
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Uid": "65532 65532 65532 65532", "Gid": "65532 65532 65532 65532", "Groups": ""}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if w, ok := want[k]; ok {
			if got := strings.Join(strings.Fields(v), " "); got != w {
				t.Errorf("the image's revocast runs with %s %q, want %q", k, got, w)
			}
			delete(want, k)
		}
	}
	if len(want) != 0 {
		t.Errorf("/proc status lacks %v", want)
	}
	if r, _ := os.Readlink("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/root"); r != root {
		t.Errorf("its root is %q, want %q", r, root)
	}
	waitFor(t, "the image's sidecar ready", func() bool { return httpDo(t, "GET", side+"/readyz", "", "").code == 200 })
	if r := esRevoke(t, front, `{"token":"image-token"}`); r.code != 200 || !strings.Contains(r.body, `"invalidated_tokens":1`) {
		t.Fatalf("revoke through the image's front: %d %s", r.code, r.body)
	}
	if c := check(side, "image-token"); c != 401 {
		t.Errorf("the image's sidecar answers %d for the revoked token, want 401", c)
	}
	if c := check(side, "other-token"); c != 204 {
		t.Errorf("the image's sidecar answers %d for another token, want 204", c)
	}
	p.stop()
	if _, err := os.Stat(filepath.Join(root, "data", "jetstream")); err != nil {
		t.Errorf("no JetStream data in the writable /data: %v", err)
	}
	t.Logf("static build %s, image and run %s", built.Sub(began).Round(time.Millisecond), time.Since(built).Round(time.Millisecond))
}
