package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

// Mistakes on the events command line are usage errors (status 2) that say
// what is wrong, before anything connects.
func TestEventsUsageErrors(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "there.ndjson")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"events"}, "a subcommand is needed"},
		{[]string{"events", "purge"}, `unknown subcommand "purge"`},
		{[]string{"events", "tail", "--from-start", "--since", "1m"}, "not both"},
		{[]string{"events", "tail", "--max", "0"}, "--max must be 1 to 1000000"},
		{[]string{"events", "import", "--resume-from-line", "-1"}, "--resume-from-line must not be negative"},
		{[]string{"events", "import", "--max-token-lifetime", "0s"}, "--max-token-lifetime must be at least 1s"},
		{[]string{"events", "info", "--stream", "a.b"}, "--stream"},
		{[]string{"events", "export", "--out", existing, "--nats-url", "nats://127.0.0.1:1"}, "exists (--force replaces it)"},
		{[]string{"init", "--mirror-from", "a.b"}, "--mirror-from must be a JetStream domain name"},
	} {
		var out, errOut strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		code := run(ctx, c.args, func(string) string { return "" }, &out, &errOut)
		cancel()
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("revocast %s: status %d, %q; want 2 and %q", strings.Join(c.args, " "), code, errOut.String(), c.want)
		}
	}
}

// What tail prints of an event: hash prefixes unless asked for whole ones,
// names quoted so no control character reaches the terminal.
func TestTailLine(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := events.NewTokenRevocation(events.TokenKey("t"), events.AccessToken, now.Add(time.Hour), now)
	tok.Realm = "saml1\x1b[31m"
	b, _ := tok.Encode()
	got := tailOpts{maxItems: 3}.line(7, now, tok.Subject(), b, now)
	want := `2026-01-01T00:00:00Z seq=7 token key=` + events.TokenKey("t").Short() +
		` type="access_token" realm="saml1\x1b[31m" expires=2026-01-01T01:00:00Z (in 1h0m0s)`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if full := (tailOpts{full: true}).line(7, now, tok.Subject(), b, now); !strings.Contains(full, events.TokenKey("t").String()) {
		t.Fatalf("--full-hashes: %s", full)
	}
	var items []events.TokenItem
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		items = append(items, events.TokenItem{Token: events.TokenKey(s), ExpiresAt: now.Add(time.Hour)})
	}
	batch := events.NewTokenBatch("req", 0, items, now)
	b, _ = batch.Encode()
	if got := (tailOpts{maxItems: 2}).line(8, now, batch.Subject(), b, now); !strings.Contains(got, "batch tokens=5 keys="+
		events.TokenKey("a").Short()+","+events.TokenKey("b").Short()+",+3 more") {
		t.Fatalf("a batch: %s", got)
	}
	if got := (tailOpts{}).line(9, now, "revocast.rev.token.x", []byte(`{"v":9}`), now); !strings.Contains(got, "unreadable") {
		t.Fatalf("an unreadable event: %s", got)
	}
}
