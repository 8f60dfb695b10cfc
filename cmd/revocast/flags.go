package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// envName is a flag's environment twin: --nats-url → REVOCAST_NATS_URL.
func envName(flagName string) string {
	return "REVOCAST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags applies environment twins, then the command line (which wins).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// newFlagSet returns a flag set whose usage lists every flag with its
// environment twin.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: revocast %s [flags]\n\n%s\n\nflags (each also read from its environment variable):\n", name, synopsis)
		var lines []string
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = " (default " + f.DefValue + ")"
			}
			lines = append(lines, fmt.Sprintf("  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def))
		})
		sort.Strings(lines)
		fmt.Fprint(out, strings.Join(lines, ""))
	}
	return fs
}

// byteSize is a flag taking 65536, 64KiB, 1MiB.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "KB": 1000, "MB": 1000 * 1000} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a positive size such as 65536 or 64KiB")
	}
	*b = byteSize(n * mult)
	return nil
}

// kvList is a repeatable KEY=VALUE flag (also comma-separated).
type kvList map[string]string

func (m *kvList) String() string {
	var parts []string
	for k, v := range *m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (m *kvList) Set(s string) error {
	if *m == nil {
		*m = kvList{}
	}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("want ISSUER=REALM, got %q", p)
		}
		(*m)[k] = v
	}
	return nil
}

// stringList is a repeatable flag; each use adds one value as given (no
// splitting, so a value may hold commas).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// positiveDuration checks duration flags after parsing.
func positiveDuration(name string, d time.Duration, allowZero bool) error {
	if d < 0 || (d == 0 && !allowZero) {
		return fmt.Errorf("--%s must be positive, got %s", name, d)
	}
	return nil
}
