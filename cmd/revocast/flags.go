package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
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
	describeValues(fs)
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: --%s %w", envName(f.Name), v, f.Name, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The environment may set what the command line then overrides; the
	// command line itself may give a single-valued flag once.
	fs.VisitAll(func(f *flag.Flag) {
		if d, ok := f.Value.(describedValue); ok {
			*d.sets = 0
		}
	})
	// The flag package would print the whole usage after a mistake, pushing
	// the error off the screen: the error comes back alone, with one line
	// pointing at -h; -h prints the usage.
	out := fs.Output()
	usage := fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	case err != nil:
		return fmt.Errorf("%w\n(run 'revocast %s -h' for its flags)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --; run 'revocast %s -h')", fs.Arg(0), fs.Name())
	}
	return nil
}

// describedValue says what a flag wants when a value does not parse: the
// standard flag package only says "parse error".
type describedValue struct {
	flag.Value
	want       string
	repeatable bool
	sets       *int // Sets since the command line's parsing began
}

func (d describedValue) Set(s string) error {
	if *d.sets++; *d.sets > 1 && !d.repeatable {
		// The flag package lets the last one win: nats-init --dir A --dir B
		// would silently write the trust into B.
		return errors.New("given more than once (it takes one value)")
	}
	if err := d.Value.Set(s); err != nil {
		if d.want == "" {
			return err
		}
		return fmt.Errorf("wants %s", d.want)
	}
	return nil
}

// IsBoolFlag keeps --flag without a value working for booleans.
func (d describedValue) IsBoolFlag() bool {
	b, ok := d.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// describeValues wraps every flag's value so its errors name the form wanted.
func describeValues(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if _, done := f.Value.(describedValue); done {
			return
		}
		want := ""
		switch fmt.Sprintf("%T", f.Value) {
		case "*flag.durationValue":
			want = "a duration with its unit, such as 5s, 500ms or 2m (a bare number has none)"
		case "*flag.intValue", "*flag.int64Value", "*flag.uintValue", "*flag.uint64Value":
			want = "a whole number"
		case "*flag.boolValue":
			want = "true or false"
		case "*flag.float64Value":
			want = "a number"
		}
		_, list := f.Value.(*stringList)
		_, kv := f.Value.(*kvList)
		f.Value = describedValue{Value: f.Value, want: want, repeatable: list || kv, sets: new(int)}
	})
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
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
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
