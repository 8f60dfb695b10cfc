package oam

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/publisher"
	"github.com/revocast/revocast/publisher/auth"
)

// seedToken is the token Oracle's samples mean: their value, percent-decoded,
// without the line breaks.
const seedToken = "LCbzQggeRM1EMgprtKrHuQ==~csLp2lL9J03orCX0dTvBySFAXG4Yi+I/Oq80ChZzVsz1BrME2GEg9Kuk6aShduv0K/8Yzhs6F4RCOdXgO1uZi1u3V544Hf/ziaoJFZGDr4UmfkLHByMTJYWTJXfR/MUQkkDjffRAlox1vVjztUbhB1uKMkZWE/hTYHCp1pkc2zNJC7j7KQaIF+kNfg8GPS/djeLo7i99++ifb+KqGTnaJWOr2JSm7XApoGlX9dwBzM8EHdO4IQNPYDxkvtQLajVxlRhK5ZnL3F29wBD4yOuXqg=="

const placeholder = "<ManagedServerHost>:<ManagedServerPort>"

// Oracle's curl samples, copied verbatim from the OAM documentation into
// testdata, replayed as printed (only the host placeholder is replaced)
// against the handler: the header form (the first sample) and the
// identityDomain query form (the third). The second printed sample, a copy
// of the first, lacks the closing quote of its --data-urlencode value, so
// bash would read on into the next command: it is left out.
func TestSeedCurlSamples(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		skipOrFail(t, "bash is not installed: the replay of Oracle's curl samples needs it")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		skipOrFail(t, "curl is not installed: the replay of Oracle's curl samples needs it")
	}
	for _, name := range []string{"seed-curl-1.sh", "seed-curl-3.sh"} {
		t.Run(name, func(t *testing.T) {
			sample, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(sample, []byte(placeholder)) || !bytes.Contains(sample, []byte("Cookie: JSESSIONID=")) {
				t.Fatalf("%s is not Oracle's sample", name)
			}
			// What curl sends: the quoted value as printed, line breaks
			// included; the server reads it back after form decoding.
			s := string(sample)
			received := s[strings.Index(s, "'token=")+len("'token=") : strings.LastIndex(s, "'")]
			if !strings.Contains(received, "\n") || !strings.Contains(received, "%3D") {
				t.Fatalf("the sample's token has no line breaks or escapes: %q", received)
			}

			core := newCore()
			srv := httptest.NewServer(New(core, Options{Auth: testAuth}))
			defer srv.Close()
			script := filepath.Join(t.TempDir(), name)
			host := strings.TrimPrefix(srv.URL, "http://")
			if err := os.WriteFile(script, bytes.ReplaceAll(sample, []byte(placeholder), []byte(host)), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bash, script)
			// No proxy and no ~/.curlrc of the machine running the tests.
			home := t.TempDir()
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CURL_HOME=" + home, "NO_PROXY=*", "no_proxy=*"}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("curl: %v\n%s", err, stderr.String())
			}
			if got := stdout.String(); got != `{"status":"success"}` {
				t.Errorf("curl printed %q", got)
			}
			got := core.requests()
			if len(got) != 1 {
				t.Fatalf("the core got %d requests", len(got))
			}
			r := got[0]
			if r.Token == nil || r.Token.Sum != events.TokenKey(seedToken) {
				t.Errorf("token is not Oracle's token: %+v", r.Token)
			}
			clean := strings.ReplaceAll(received, "\n", "")
			if len(r.Aliases) != 2 || r.Aliases[0].Sum != events.TokenKey(received) || r.Aliases[1].Sum != events.TokenKey(clean) {
				t.Errorf("aliases are not what was sent, with and without line breaks: %+v", r.Aliases)
			}
			if r.Realm != "DemoDomain" || r.Op != auth.OpOAM || r.Principal.ID != "DemoClientId" || r.Client != "DemoClientId" ||
				r.TokenType != "" || r.Chaining != publisher.ChainNone {
				t.Errorf("request = %+v", r)
			}
		})
	}
}

// skipOrFail skips when a program the test needs is missing, unless CI
// demands it (REVOCAST_REQUIRE_CURL=1, set by .ci/run).
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("REVOCAST_REQUIRE_CURL") == "1" {
		t.Fatal(why + " (REVOCAST_REQUIRE_CURL=1)")
	}
	t.Skip(why)
}
