package elasticsearch

import (
	"encoding/base64"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The seed document's curl command, replayed as printed (host replaced,
// $API_KEY set to an "ApiKey base64(id:key)" value). Its --data is a JSON
// string literal wrapping the object, not the object itself, so
// Elasticsearch refuses it, and so does revocast, with the same answer.
// The request bodies the document shows below the command are tested in
// TestSuccessBodiesAndRequests.
func TestSeedCurlReplayedAsPrinted(t *testing.T) {
	for _, prog := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("REVOCAST_REQUIRE_CURL") == "1" {
				t.Fatalf("%s is missing (REVOCAST_REQUIRE_CURL=1)", prog)
			}
			t.Skipf("needs %s to replay the documented curl command", prog)
		}
	}
	script, err := os.ReadFile("testdata/seed-curl.sh")
	if err != nil {
		t.Fatal(err)
	}
	core := &fakeCore{}
	srv := httptest.NewServer(newHandler(core))
	defer srv.Close()
	cmd := strings.Replace(strings.TrimRight(string(script), "\n"), "http://api.example.com", srv.URL, 1)
	c := exec.Command("bash", "-c", cmd+" --silent --show-error --write-out '%{http_code}'")
	c.Env = append(os.Environ(), "API_KEY=ApiKey "+base64.StdEncoding.EncodeToString([]byte("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")))
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	want := esErr(400, "x_content_parse_exception", "[1:1] [invalidate_token] Expected START_OBJECT but was: VALUE_STRING") + "400"
	if string(out) != want {
		t.Fatalf("answer:\n%s\nwant\n%s", out, want)
	}
	if len(core.got) != 0 {
		t.Fatal("the malformed body reached the core")
	}
}
