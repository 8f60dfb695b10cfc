package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
)

// runHashToken prints a token's revocation key (token_sha256), read from
// standard input so the token stays off command lines and shell history.
func runHashToken(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("hash-token", "Print the revocation key (token_sha256) of a token read from standard input.\n"+
		"A JWT (JWS) is keyed by what its signature protects, so every spelling of it has this key:\n"+
		"  printf %s \"$TOKEN\" | revocast hash-token", stderr)
	verbose := fs.Bool("v", false, "also print how the token was read (jws, jwe or opaque)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return usageErr(err)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, publisher.MaxTokenLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the token from standard input: %w", err)
	}
	tok := strings.TrimSpace(line)
	switch {
	case tok == "":
		return usageErr(errors.New("no token on standard input"))
	case len(tok) > publisher.MaxTokenLen:
		return usageErr(fmt.Errorf("token longer than %d bytes", publisher.MaxTokenLen))
	}
	key, form := events.TokenKeyForm(tok)
	if *verbose {
		fmt.Fprintf(stdout, "%s %s\n", key, form)
		return nil
	}
	fmt.Fprintln(stdout, key)
	return nil
}
