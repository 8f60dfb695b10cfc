package deployments_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// revocast is the binary, built once: the tests ask it for its flags
// (revocast <command> -h) and have it read the example configuration.
var revocast string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "revocast-deploy")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	revocast = filepath.Join(dir, "revocast")
	args := []string{"build", "-o", revocast}
	if raceEnabled { // the same build as cmd/revocast's tests, so the build cache serves both
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/revocast")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building revocast:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// flagLine is one flag in revocast's usage: "  --nats-url  [REVOCAST_NATS_URL]".
var flagLine = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)  \[(REVOCAST_[A-Z0-9_]+)\]$`)

var flagCache = map[string]map[string]string{}

// commandFlags returns a command's flags and their environment twins, as
// `revocast <command> -h` prints them.
func commandFlags(t *testing.T, command string) map[string]string {
	t.Helper()
	if f, ok := flagCache[command]; ok {
		return f
	}
	var out bytes.Buffer
	cmd := exec.Command(revocast, command, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("revocast %s -h: %v\n%s", command, err, out.String())
	}
	flags := map[string]string{}
	for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = m[2]
	}
	if len(flags) < 5 {
		t.Fatalf("revocast %s -h lists %d flags:\n%s", command, len(flags), out.String())
	}
	flagCache[command] = flags
	return flags
}

// TestFlagListing shows the parsing of -h finds the flags: a misspelled one
// is not among them.
func TestFlagListing(t *testing.T) {
	f := commandFlags(t, "subscriber")
	if f["subscriber-addr"] != "REVOCAST_SUBSCRIBER_ADDR" || f["nats-creds"] != "REVOCAST_NATS_CREDS" {
		t.Errorf("subscriber flags: %v", f)
	}
	if _, ok := f["subscriber-adr"]; ok {
		t.Error("a misspelled flag is listed")
	}
}
