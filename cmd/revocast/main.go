package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `revocast makes revoked OAuth tokens stop working everywhere, fast.

usage: revocast <command> [flags]

commands:
  dev          everything on one machine: embedded NATS with JetStream, the HTTP front, one sidecar
  publisher    the HTTP front (Elasticsearch, OAM, OneLogin, RFC 7009 formats), connected to --nats-url
  subscriber   the sidecar deny-cache answering GET/POST /v1/check, connected to --nats-url
  init         create or update the streams and the token registry bucket (the operator's NATS identity)
  events       info, tail, export and import the revocation stream: inspection and disaster recovery (the operator's)
  hash-secret  print the argon2id hash of a secret (read from standard input) for the --config file
  hash-token   print a token's revocation key (token_sha256; the token is read from standard input)
  version      print the version
  nats-init    generate (or load) the NATS trust: operator, accounts, role signing keys, auth.conf for the servers
  nats-creds   mint NATS credentials for a sidecar, an issuer, a front or the operator
  help         this text

"revocast <command> -h" lists a command's flags and their REVOCAST_* environment variables.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], getenv, stdout, stderr)
	case "publisher":
		err = runPublisher(ctx, args[1:], getenv, stderr)
	case "subscriber":
		err = runSubscriber(ctx, args[1:], getenv, stderr)
	case "init":
		err = runInit(ctx, args[1:], getenv, stdout, stderr)
	case "events":
		err = runEvents(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "hash-secret":
		err = runHashSecret(args[1:], getenv, os.Stdin, stdout, stderr)
	case "hash-token":
		err = runHashToken(args[1:], getenv, os.Stdin, stdout, stderr)
	case "version", "--version":
		err = runVersion(args[1:], stdout)
	case "nats-init":
		err = runNATSInit(args[1:], getenv, stdout, stderr)
	case "nats-creds":
		err = runNATSCreds(args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "revocast: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "revocast %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "revocast %s: %v\n", args[0], err)
		return 1
	}
}

// usageErr marks a flag or configuration problem (exit status 2); its
// message is err's.
func usageErr(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}

type usageError struct{ err error }

func (u usageError) Error() string        { return u.err.Error() }
func (u usageError) Unwrap() error        { return u.err }
func (u usageError) Is(target error) bool { return target == errUsage }
