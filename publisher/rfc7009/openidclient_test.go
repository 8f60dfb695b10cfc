package rfc7009

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

// clientDir holds the pinned openid-client and the script driving it.
const clientDir = "testdata/openid-client"

// needNode returns the node binary, or skips (fails when
// REVOCAST_REQUIRE_NODE=1, as in CI) when node or the installed
// openid-client is missing.
func needNode(t *testing.T) string {
	t.Helper()
	missing := ""
	node, err := exec.LookPath("node")
	if err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "openid-client", "package.json")); err != nil {
		missing = clientDir + "/node_modules/openid-client is not installed"
	}
	if missing == "" {
		return node
	}
	msg := missing + ": install node >= 20 and run `npm ci --prefix publisher/rfc7009/testdata/openid-client`"
	if os.Getenv("REVOCAST_REQUIRE_NODE") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// The real openid-client (JS) revokes tokens with Basic (form-urlencoding a
// client id and secret that need it) and with body credentials, with and
// without a hint, and surfaces invalid_client for a wrong secret.
func TestOpenIDClient(t *testing.T) {
	node := needNode(t)
	core := &fakeCore{}
	mux := http.NewServeMux()
	mux.Handle(Route, New(core, Options{Auth: newStore(600, 50)}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	run := func(t *testing.T, secret, token, hint, method string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "revoke.mjs", srv.URL, oddID, secret, token, hint, method)
		cmd.Dir = clientDir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	const token = "2YotnFZFEjr1zCsicMWpAA+/=&x"
	for _, tc := range []struct{ method, hint, wantType string }{
		{"basic", "access_token", events.AccessToken},
		{"basic", "", ""},
		{"post", "refresh_token", events.RefreshToken},
		{"post", "", ""},
	} {
		t.Run(tc.method+"/hint="+tc.hint, func(t *testing.T) {
			core.mu.Lock()
			core.got = nil
			core.mu.Unlock()
			if out, err := run(t, oddSecret, token, tc.hint, tc.method); err != nil {
				t.Fatalf("openid-client failed: %v\n%s", err, out)
			}
			checkRequest(t, core, oddID, token, tc.wantType)
		})
	}
	for _, method := range []string{"basic", "post"} {
		t.Run(method+"/wrong secret", func(t *testing.T) {
			core.mu.Lock()
			core.got = nil
			core.mu.Unlock()
			out, err := run(t, oddSecret+"x", token, "", method)
			if err == nil {
				t.Fatalf("openid-client succeeded with a wrong secret:\n%s", out)
			}
			if !strings.Contains(out, "invalid_client") || !strings.Contains(out, "401") {
				t.Errorf("openid-client did not surface a 401 invalid_client:\n%s", out)
			}
			if got := core.requests(); len(got) != 0 {
				t.Errorf("core reached: %+v", got)
			}
		})
	}
}
