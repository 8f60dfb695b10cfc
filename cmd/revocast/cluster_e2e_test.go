package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/jwttest"
	"github.com/revocast/revocast/internal/natsauth"
	"github.com/revocast/revocast/internal/natstest"
)

// The whole system on the shipped, secured 3-node cluster configuration
// (operator-mode authentication from nats-init, TLS on clients and routes
// from make-certs.sh), every process the real binary with its own identity:
// revocast init as the operator, a front, two sidecars, and an issuer that
// registers over the bus. Revocations reach both sidecars.
func TestE2ESecuredClusterEndToEnd(t *testing.T) {
	deploy, err := filepath.Abs("../../deployments/nats")
	if err != nil {
		t.Fatal(err)
	}
	trustDir := filepath.Join(t.TempDir(), "trust")
	if out, err := exec.Command(binary, "nats-init", "--dir", trustDir).CombinedOutput(); err != nil {
		t.Fatalf("nats-init: %v %s", err, out)
	}
	authConf, err := os.ReadFile(filepath.Join(trustDir, natsauth.AuthConfFile))
	if err != nil {
		t.Fatal(err)
	}
	operator := filepath.Join(trustDir, natsauth.CredsFile(natsauth.Operator))
	cl := natstest.StartShipped(t, natstest.ShippedOptions{DeployDir: deploy, AuthConf: authConf,
		Connect: natsauth.ClientOptions(operator, natsauth.Operator, "")})
	var urls []string
	for _, s := range cl.Servers {
		urls = append(urls, s.ClientURL())
	}
	url := strings.Join(urls, ",")
	mint := func(role natsauth.Role, name string, realms ...string) string {
		out := filepath.Join(t.TempDir(), name+".creds")
		args := []string{"nats-creds", "--dir", trustDir, "--role", string(role), "--name", name, "--out", out}
		for _, r := range realms {
			args = append(args, "--realm", r)
		}
		if b, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Fatalf("nats-creds: %v %s", err, b)
		}
		return out
	}
	tlsCA := []string{"--nats-url", url, "--nats-tls-ca", cl.CA}
	waitFor(t, "revocast init on the cluster", func() bool {
		out, err := exec.Command(binary, append([]string{"init", "--replicas", "3", "--nats-creds", operator}, tlsCA...)...).CombinedOutput()
		if err != nil {
			t.Logf("init: %s", out)
		}
		return err == nil
	})
	front := start(t, nil, append([]string{"publisher", "--publisher-addr", "127.0.0.1:0", "--replicas", "3", "--config",
		writeConfig(t, ""), "--nats-creds", filepath.Join(trustDir, natsauth.CredsFile(natsauth.Front))}, tlsCA...)...)
	frontURL := front.addr("publisher")
	var sides []string
	for _, id := range []string{"side-1", "side-2"} {
		p := start(t, nil, append([]string{"subscriber", "--id", id, "--subscriber-addr", "127.0.0.1:0",
			"--nats-creds", mint(natsauth.Sidecar, id)}, tlsCA...)...)
		sides = append(sides, p.addr("subscriber"))
	}
	waitFor(t, "everything ready", func() bool {
		for _, u := range append([]string{frontURL}, sides...) {
			if httpDo(t, "GET", u+"/readyz", "", "").code != 200 {
				return false
			}
		}
		return strings.Contains(httpDo(t, "GET", frontURL+"/metrics", "", "").body, "revocast_publisher_live_subscribers 2")
	})

	issuer, err := cl.Dial(0, natsauth.ClientOptions(mint(natsauth.Issuer, "idp-1", "saml1"), natsauth.Issuer, "idp-1")...)
	if err != nil {
		t.Fatal(err)
	}
	defer issuer.Close()
	line := tokenLine("opaque-cluster-token", "access_token", "saml1", "alice", "app", "", time.Hour)
	msg, err := issuer.Request(events.RegistrySubject("saml1"), []byte(line), 10*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), `"registered":1`) {
		t.Fatalf("registration over the bus: %v %v", err, msg)
	}
	key := jwttest.Key(t)
	jwtTok := jwttest.ES256(t, key, jwt.MapClaims{"iss": "saml1", "sub": "alice", "iat": time.Now().Add(-time.Minute).Unix()})
	r := esRevoke(t, frontURL, `{"username":"alice","realm_name":"saml1"}`)
	if r.code != 200 || !strings.Contains(r.body, `"invalidated_tokens":1`) || !strings.Contains(r.body, `"error_count":0`) {
		t.Fatalf("revoke alice: %d %s", r.code, r.body)
	}
	for _, side := range sides {
		for _, tok := range []string{"opaque-cluster-token", jwtTok, jwttest.HighS(t, jwtTok)} {
			if c := check(side, tok); c != 401 {
				t.Fatalf("%s allows a revoked token right after the confirmed answer: %d", side, c)
			}
		}
	}
}
