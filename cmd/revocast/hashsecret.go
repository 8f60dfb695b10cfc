package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/revocast/revocast/publisher/auth"
)

// runHashSecret prints the argon2id hash of a secret read from stdin (one
// line), or of a generated one with --generate, for the --config file.
func runHashSecret(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("hash-secret", "Print the argon2id hash of a secret for the --config file.\n"+
		"The secret is read from standard input (never from the command line, where other users can see it):\n"+
		"  printf %s 'the-secret' | revocast hash-secret\n"+
		"  revocast hash-secret --generate   # make a random secret and print both", stderr)
	generate := fs.Bool("generate", false, "generate a random secret and print it with its hash")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	var secret string
	if *generate {
		secret = auth.GenerateSecret()
	} else {
		line, err := bufio.NewReader(io.LimitReader(stdin, auth.MaxSecretLen+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the secret from standard input: %w", err)
		}
		secret = strings.TrimRight(line, "\r\n")
		if secret == "" {
			return usageErr(errors.New("no secret on standard input (or use --generate)"))
		}
		if len(secret) > auth.MaxSecretLen {
			return usageErr(fmt.Errorf("secret longer than %d bytes", auth.MaxSecretLen))
		}
	}
	h, err := auth.HashSecret(secret)
	if err != nil {
		return err
	}
	if *generate {
		fmt.Fprintf(stdout, "secret: %s\nhash:   %s\n", secret, h)
		return nil
	}
	fmt.Fprintln(stdout, h)
	return nil
}
