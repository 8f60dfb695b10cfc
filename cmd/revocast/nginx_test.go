package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natstest"
)

// The shipped nginx example (deployments/nginx/revocast-auth.conf), run by
// a real nginx in front of a backend, with the sidecar behind auth_request:
// a valid token reaches the backend, a revoked one gets 401, and without a
// sidecar nginx answers 503 rather than letting anything through.
func TestE2ENginxAuthRequest(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				nginx, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("REVOCAST_REQUIRE_NGINX") == "1" {
			t.Fatal("nginx is missing (REVOCAST_REQUIRE_NGINX=1)")
		}
		t.Skip("needs nginx (apt-get install nginx; .ci/run installs it)")
	}
	d := startDev(t, t.TempDir(), nil)
	waitFor(t, "sidecar ready", func() bool { return httpDo(t, "GET", d.side+"/readyz", "", "").code == 200 })
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "backend saw "+r.URL.Path)
	}))
	defer backend.Close()

	shipped, err := os.ReadFile("../../deployments/nginx/revocast-auth.conf")
	if err != nil {
		t.Fatal(err)
	}
	port := natstest.FreePort(t)
	conf := strings.NewReplacer(
		"listen 8000;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"http://127.0.0.1:8081", d.side,
		"http://127.0.0.1:9000", backend.URL,
	).Replace(string(shipped))
	dir := t.TempDir()
	main := fmt.Sprintf(`daemon off; master_process off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  include %[1]s/revocast-auth.conf;
}
`, dir)
	for name, body := range map[string]string{"nginx.conf": main, "revocast-auth.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	front := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, "nginx listening", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	api := func(token string) response {
		return httpDo(t, "GET", front+"/api/orders", "", "", "Authorization", "Bearer "+token)
	}
	if r := api("nginx-token"); r.code != 200 || r.body != "backend saw /api/orders" {
		t.Fatalf("a valid token: %d %s", r.code, r.body)
	}
	if r := esRevoke(t, d.front, `{"token":"nginx-token"}`); r.code != 200 {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	waitFor(t, "nginx to refuse the revoked token", func() bool { return api("nginx-token").code == 401 })
	if r := api("another-token"); r.code != 200 {
		t.Fatalf("another token: %d %s", r.code, r.body)
	}
	d.stop()
	if r := api("another-token"); r.code != 503 || strings.Contains(r.body, "backend saw") {
		t.Fatalf("without a sidecar: %d %s (want 503, fail closed)", r.code, r.body)
	}
}
