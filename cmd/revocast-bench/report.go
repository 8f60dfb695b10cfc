package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// write prints the table and writes benchmarks.md and the plots to --out.
func (h *harness) write(stdout io.Writer) error {
	if err := os.MkdirAll(h.opt.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	pngs, err := h.drawPlots(h.opt.out)
	if err != nil {
		return err
	}
	var b strings.Builder
	h.markdown(&b, pngs)
	path := filepath.Join(h.opt.out, "benchmarks.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintln(stdout)
	h.table(stdout)
	h.writeBounds(stdout, "Bounds:")
	fmt.Fprintf(stdout, "\nwrote %s", path)
	for _, p := range pngs {
		fmt.Fprintf(stdout, ", %s", filepath.Join(h.opt.out, p))
	}
	fmt.Fprintln(stdout)
	return nil
}

func (h *harness) table(w io.Writer) {
	fmt.Fprintln(w, "| measure | figure | baseline (same run) | ratio | target | met? |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", cell(r.measure), cell(r.figure), cell(r.baseline),
			cell(r.ratio), cell(r.target), r.met)
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func (h *harness) markdown(w io.Writer, pngs []string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("# revocast benchmarks")
	p("")
	p("Written by `make bench` (`cmd/revocast-bench`) on %s, in %s.", h.began.UTC().Format("2006-01-02 15:04 MST"),
		secs(time.Since(h.began)))
	p("Every figure stands beside its baseline measured in the same run on the same machine: absolute times on this")
	p("shared 2-core host move by 40–70%% with its load, ratios much less.")
	p("Everything runs on loopback: an embedded NATS server (JetStream, file storage) in the harness, every revocast component")
	p("as its own process of the real binary with its own NATS identity, redis-server as a process, and the load generator in the harness.")
	if h.opt.quick {
		p("")
		p("**This is a `--quick` run (small counts, short loads): a smoke test, not the issue's figures.**")
	}
	p("")
	p("## Machine")
	p("")
	for _, l := range machine(h.load0) {
		p("- %s", l)
	}
	p("")
	p("## Versions")
	p("")
	for _, l := range h.versions() {
		p("- %s", l)
	}
	p("")
	p("## Commands")
	p("")
	p("```sh")
	p("make bench   # = make build; redis-server installed with apt-get when missing; then:")
	p("go build -o bin/revocast-bench ./cmd/revocast-bench")
	p("./bin/revocast-bench %s", strings.Join(h.opt.args, " "))
	p("```")
	p("")
	p("`./bin/revocast-bench -h` lists the flags (`--quick`, `--only front,check,...`, `--pprof-dir`, `--keep`). The go-test")
	p("micro-benchmarks of the packages run with `make bench-go`.")
	p("")
	p("## Results")
	p("")
	h.table(w)
	if len(h.notes) > 0 {
		p("")
		p("Seen during the run:")
		p("")
		for _, n := range h.notes {
			p("- %s", n)
		}
	}
	h.writeBounds(w, "## Bounds")
	if len(pngs) > 0 {
		p("")
		p("## Plots")
		p("")
		for _, f := range pngs {
			p("![%s](%s)", strings.TrimSuffix(f, ".png"), f)
			p("")
		}
	}
	p("")
	p("## How each figure is measured")
	p("")
	for _, l := range h.howTo() {
		p("- %s", l)
	}
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ", ")
	}
	return "unknown"
}

// machine describes the host.
func machine(load0 string) []string {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return []string{
		"CPU: " + cpu,
		fmt.Sprintf("cores: %d (GOMAXPROCS %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0)),
		"memory: " + mem,
		"kernel: Linux " + strings.TrimSpace(string(kernel)),
		"load average (1, 5, 15 min) at the start: " + load0 + "; at the end: " + loadAvg() +
			" (the machine is shared: other work ran beside this one)",
	}
}

// versions of what was measured.
func (h *harness) versions() []string {
	mods := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			mods[d.Path] = d.Version
		}
	}
	redisV := "not installed"
	if bin, err := findRedis(h.opt.redis); err == nil {
		redisV = redisVersion(bin)
	}
	commit := "unknown (not a git checkout)"
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			commit += " with uncommitted changes"
		}
	}
	return []string{
		"Go: " + runtime.Version(),
		"nats-server (embedded, Go module github.com/nats-io/nats-server/v2): " + mods["github.com/nats-io/nats-server/v2"],
		"nats.go: " + mods["github.com/nats-io/nats.go"] + "; ristretto: " + mods["github.com/dgraph-io/ristretto/v2"] +
			"; go-redis: " + mods["github.com/redis/go-redis/v9"],
		"redis-server: " + redisV,
		"revocast commit: " + commit,
	}
}
