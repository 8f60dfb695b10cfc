package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natsconn"
)

const eventsUsage = `usage: revocast events <subcommand> [flags]

Look at and move the revocation stream, for operators and disaster recovery.
Every subcommand connects as the operator's NATS identity (--nats-creds
operator.creds): only the operator may read REVOCAST besides the sidecars,
each through its own consumer, and import must read it too, so as never to
replace a later revocation with an earlier one (a front may write revocations
but not read them back).

subcommands:
  info     what the stream and its ledger hold, and the live sidecars and their lag (--json)
  tail     follow revocations as they are stored (--from-start, --since 10m; at most --max)
  export   every live revocation and rule as NDJSON, to --out FILE or standard output
  import   store an export's revocations and their ledger marks (idempotent; --resume-from-line N)

"revocast events <subcommand> -h" lists its flags.
`

// runEvents runs an events subcommand.
func runEvents(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, eventsUsage)
		return usageErr(errors.New("a subcommand is needed: info, tail, export or import"))
	}
	switch args[0] {
	case "info":
		return runEventsInfo(ctx, args[1:], getenv, stdout, stderr)
	case "tail":
		return runEventsTail(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return runEventsExport(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return runEventsImport(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, eventsUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, eventsUsage)
	return usageErr(fmt.Errorf("unknown subcommand %q", clipArg(args[0])))
}

func clipArg(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// eventsOpts are the flags every events subcommand takes.
type eventsOpts struct {
	natsURL   string
	natsAuth  natsconn.Auth
	stream    string
	logFormat string
	logLevel  string
	timeout   time.Duration
}

func (o *eventsOpts) register(fs *flag.FlagSet) {
	fs.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated for a cluster")
	registerNATSAuth(fs, &o.natsAuth)
	fs.StringVar(&o.stream, "stream", events.DefaultStreamName, "name of the JetStream revocation stream (its ledger is <name>_LEDGER)")
	fs.StringVar(&o.logFormat, "log-format", "console", "log format of connection messages: json or console")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	fs.DurationVar(&o.timeout, "nats-timeout", 10*time.Second, "how long each request to NATS may take")
}

// parse parses the flags and checks them, with check (nil: none) for the
// subcommand's own.
func (o *eventsOpts) parse(fs *flag.FlagSet, args []string, getenv func(string) string, check func() error) error {
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	o.natsAuth.Password = getenv(natsPasswordEnv)
	errs := []error{o.natsAuth.Validate(), positiveDuration("nats-timeout", o.timeout, false)}
	if check != nil {
		errs = append(errs, check())
	}
	if o.logFormat != "json" && o.logFormat != "console" {
		errs = append(errs, fmt.Errorf("--log-format must be json or console, got %q", o.logFormat))
	}
	if err := events.ValidID(o.stream); err != nil {
		errs = append(errs, fmt.Errorf("--stream: %w", err))
	}
	return usageErr(errors.Join(errs...))
}

func (o *eventsOpts) streamOptions() events.StreamOptions {
	return events.StreamOptions{Name: o.stream}
}

// connect connects as the operator. Unlike the long-running components it
// fails at once when no server answers, then reconnects if the connection
// drops while it works.
func (o *eventsOpts) connect(name string, stderr io.Writer) (*nats.Conn, jetstream.JetStream, error) {
	log, err := newLogger(o.logFormat, o.logLevel, stderr)
	if err != nil {
		return nil, nil, usageErr(err)
	}
	log = log.With().Str("component", name).Logger()
	nc, err := natsconn.Connect(natsconn.Options{URLs: o.natsURL, Name: name, Auth: o.natsAuth,
		InboxPrefix: natsauth.InboxPrefix(natsauth.Operator, ""),
		Extra: []nats.Option{nats.RetryOnFailedConnect(false), nats.Timeout(o.timeout),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil { // nil: closed when the command is done
					log.Warn().Err(err).Msg("disconnected from NATS")
				}
			})}}, log)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (with %s)", err, o.natsAuth.Describe())
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(o.timeout))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// operatorHint explains a refusal to read the stream.
func (o *eventsOpts) operatorHint(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return fmt.Errorf("%w: no answer from JetStream; these commands need the operator's identity "+
			"(a front's or a sidecar's may not read %s: NATS then refuses the request silently), %s was used",
			err, o.stream, o.natsAuth.Describe())
	}
	return err
}
