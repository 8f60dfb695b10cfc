package onelogin

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDocumentedCurlSample replays the cURL sample of OneLogin's Revoke Token
// page (testdata/sample_request.curl, verbatim with its line breaks) through
// bash and curl, with its placeholders replaced by the test server and the
// test client's values.
func TestDocumentedCurlSample(t *testing.T) {
	for _, prog := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(prog); err != nil {
			skipOrFail(t, fmt.Sprintf("%s is not installed, so the documented curl sample cannot be replayed: %v", prog, err))
		}
	}
	sample, err := os.ReadFile("testdata/sample_request.curl")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(sample, []byte("\\\n")) != 4 {
		t.Fatalf("the sample lost its line continuations:\n%s", sample)
	}
	core := &fakeCore{}
	srv := httptest.NewServer(newHandler(core))
	defer srv.Close()

	script := strings.NewReplacer(
		"https://<subdomain>", srv.URL,
		"<client_id>", clientID,
		"<client_secret>", clientSecret,
		"<access token>", sampleToken,
	).Replace(string(sample))
	if strings.ContainsAny(script, "<>") {
		t.Fatalf("a placeholder was left:\n%s", script)
	}
	home := t.TempDir() // no ~/.curlrc, no proxy
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "HOME="+home, "CURL_HOME="+home, "XDG_CONFIG_HOME="+home,
		"NO_PROXY=*", "no_proxy=*")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nscript:\n%s\nstderr: %s", err, script, stderr.String())
	}
	if got := stdout.String(); got != body200 {
		t.Fatalf("curl printed %q, want %q", got, body200)
	}
	checkRequest(t, core, sampleToken)
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
