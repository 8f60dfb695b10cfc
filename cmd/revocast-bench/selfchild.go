package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
)

// Some baselines are processes of the harness's own binary: a bare
// JetStream consumer beside the sidecars' CPU, an empty net/http server
// beside the sidecar's check. A process rather than a goroutine, since the
// component each stands beside is a process of its own: its CPU is read
// from /proc the same way and it does not share the harness's scheduler.
//
// childEnv, set in such a process's environment, names its mode; the
// arguments are its settings. Like revocast, it logs JSON lines on standard
// error and announces its address with a "listening" line, so the harness
// starts, finds and stops it as it does the real binary. The check is in an
// init function so that the package's test binary, which the harness
// re-executes under go test, runs the modes too.
const childEnv = "REVOCAST_BENCH_CHILD"

// childModes are the baseline processes, by mode.
var childModes = map[string]func(args []string) error{
	rawConsumerMode: rawConsumerMain,
	emptyHTTPMode:   emptyHTTPMain,
}

func init() {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return
	}
	run, ok := childModes[mode]
	if !ok {
		modes := make([]string, 0, len(childModes))
		for m := range childModes {
			modes = append(modes, m)
		}
		sort.Strings(modes)
		childLog("error", mode, "unknown mode", "modes", fmt.Sprint(modes))
		os.Exit(2)
	}
	if err := run(os.Args[1:]); err != nil {
		childLog("error", mode, "failed", "error", err.Error())
		os.Exit(1)
	}
	os.Exit(0)
}

// childLog writes one log line as revocast does (JSON on standard error):
// level, component, message and key-value pairs.
func childLog(level, component, msg string, kv ...string) {
	l := map[string]string{"level": level, "component": component, "message": msg}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(l)
	fmt.Fprintf(os.Stderr, "%s\n", b)
}

// startSelf starts the harness's own binary in mode with args as a process
// of this env (its log in the env's directory, stopped by close).
func (e *env) startSelf(name, mode string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	return e.adopt(startCmd(e.dir, name, cmd))
}
