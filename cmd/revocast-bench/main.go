package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/revocast/revocast/publisher/auth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "revocast-bench:", err)
		os.Exit(1)
	}
}

// measures, in the order they run; --only selects some by name.
var measures = []struct {
	name string
	run  func(*harness, context.Context) error
}{
	{"front", (*harness).measureFront},
	{"check", (*harness).measureCheck},
	{"enforce", (*harness).measureEnforce},
	{"replay", (*harness).measureReplay}, // memory too
	{"registry", (*harness).measureRegistry},
	{"stall", (*harness).measureStall},
	{"fault", (*harness).measureFault},
}

// options are the command line.
type options struct {
	bin, out, redis, pprofDir, workDir string
	quick, keep                        bool
	only                               map[string]bool
	timeout                            time.Duration
	args                               []string
}

// harness is one run: its options, scale, work directory and findings.
type harness struct {
	opt     options
	sc      scale
	work    string
	nonce   string
	basic   string // Authorization header of the principal in cfgPath
	cfgPath string
	stderr  io.Writer
	began   time.Time
	load0   string // load average at the start
	envs    []*env

	mu     sync.Mutex
	rows   []row
	notes  []string
	bounds []string // what bounds each unmet target, from this run's figures
	plots  plots
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{args: args}
	fs := flag.NewFlagSet("revocast-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "./bin/revocast", "the revocast binary to start (make bench builds it)")
	fs.StringVar(&o.out, "out", "docs", "where benchmarks.md and the PNG plots are written")
	fs.BoolVar(&o.quick, "quick", false, "small counts and short loads: a smoke test of the whole harness (about 30 s)")
	only := fs.String("only", "", "comma-separated measures to run: front, check, enforce, replay, memory, registry, stall, fault (default: all)")
	fs.DurationVar(&o.timeout, "timeout", 8*time.Minute, "stop measuring after this long; what did not run is reported as not run")
	fs.StringVar(&o.redis, "redis-server", "", "the redis-server binary (default: found on PATH, /usr/bin, /usr/sbin)")
	fs.StringVar(&o.pprofDir, "pprof-dir", "", "also save a CPU profile of the front under load here (the front runs with --pprof-addr)")
	fs.StringVar(&o.workDir, "work-dir", "", "directory for the NATS stores and the processes' logs (default: a new temporary one)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (logs) after the run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *only != "" {
		o.only = map[string]bool{}
		known := map[string]bool{"memory": true}
		for _, m := range measures {
			known[m.name] = true
		}
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !known[n] {
				return o, fmt.Errorf("--only: unknown measure %q", n)
			}
			o.only[n] = true
		}
		if o.only["memory"] {
			o.only["replay"] = true // memory is read from the replayed sidecar
		}
	}
	if _, err := os.Stat(o.bin); err != nil {
		return o, fmt.Errorf("--bin: %w (run make build, or make bench)", err)
	}
	return o, nil
}

// want reports whether the measure named is selected.
func (h *harness) want(name string) bool { return h.opt.only == nil || h.opt.only[name] }

// run is the whole program.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	h := &harness{opt: o, sc: fullScale, stderr: stderr, began: time.Now(), load0: loadAvg(),
		nonce: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	if o.quick {
		h.sc = quickScale
	}
	if err := h.setup(); err != nil {
		return err
	}
	defer h.cleanup()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	for _, m := range measures {
		if !h.want(m.name) {
			continue
		}
		if ctx.Err() != nil {
			h.add(row{measure: m.name, figure: "not run: " + ctx.Err().Error(), baseline: "—", ratio: "—", target: "—", met: "no"})
			continue
		}
		t := time.Now()
		h.progress("%s: start", m.name)
		if err := m.run(h, ctx); err != nil {
			h.progress("%s: FAILED: %v", m.name, err)
			h.add(row{measure: m.name, figure: "failed: " + oneLine(err), baseline: "—", ratio: "—", target: "—", met: "no"})
		}
		h.closeEnvs()
		h.progress("%s: done in %s", m.name, secs(time.Since(t)))
	}
	if err := h.write(stdout); err != nil {
		return err
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return nil
}

// setup makes the work directory and the front's principal.
func (h *harness) setup() error {
	var err error
	h.work = h.opt.workDir
	if h.work == "" {
		if h.work, err = os.MkdirTemp("", "revocast-bench-"); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
	} else if err := os.MkdirAll(h.work, 0o700); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if h.opt.bin, err = filepath.Abs(h.opt.bin); err != nil {
		return fmt.Errorf("--bin: %w", err)
	}
	secret := auth.GenerateSecret()
	hash, err := auth.HashSecret(secret)
	if err != nil {
		return fmt.Errorf("principal: %w", err)
	}
	h.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte("bench:"+secret))
	cfg := fmt.Sprintf("clients:\n  - {id: bench, secret_hash: '%s', allow: ['*'], realms: ['*']}\n"+
		"users:\n  - {username: bench, password_hash: '%s', allow: ['*'], realms: ['*']}\n", hash, hash)
	h.cfgPath = filepath.Join(h.work, "revocast.yaml")
	if err := os.WriteFile(h.cfgPath, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	h.progress("work directory %s (logs of every process); %s scale", h.work, map[bool]string{true: "quick", false: "full"}[h.opt.quick])
	return nil
}

// closeEnvs stops what the last measure left running.
func (h *harness) closeEnvs() {
	for _, e := range h.envs {
		e.close()
	}
	h.envs = nil
}

func (h *harness) cleanup() {
	h.closeEnvs()
	if h.opt.keep || h.opt.workDir != "" {
		return
	}
	_ = os.RemoveAll(h.work)
}

// progress prints a line on standard error with the time since the start.
func (h *harness) progress(format string, args ...any) {
	fmt.Fprintf(h.stderr, "[%6.1fs] %s\n", time.Since(h.began).Seconds(), fmt.Sprintf(format, args...))
}

// note records something the report must say (and says it now).
func (h *harness) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	h.progress("NOTE: %s", msg)
	h.mu.Lock()
	h.notes = append(h.notes, msg)
	h.mu.Unlock()
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
