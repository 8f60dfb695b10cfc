package main

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/revocast/revocast/publisher/auth"
)

// Seen: behind a proxy every client had the proxy's address, so one
// attacker's failures locked everyone out with 429. With the proxy in
// limits.trusted_proxies, failures count against the address
// X-Forwarded-For names: the attacker is refused, another client behind
// the same proxy is let in (slowed down at most auth.MaxSlowdown, since
// the failures were on its id).
func TestAttackerBehindTheProxyLocksNobodyOut(t *testing.T) {
	cfg, err := parseConfig([]byte(`
limits: {auth_failures_per_minute: 1, auth_failure_burst: 3, trusted_proxies: [127.0.0.1, "::1"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	sys := newSystemWith(t, cfg)
	wrong := "Basic " + base64.StdEncoding.EncodeToString([]byte(testID+":wrong"))
	for i := 0; i < 3; i++ {
		if r := esRevoke(t, sys.url, `{"token":"x"}`, "Authorization", wrong, "X-Forwarded-For", "203.0.113.9"); r.code != 401 {
			t.Fatalf("attack %d: %d %s", i, r.code, r.body)
		}
	}
	r := esRevoke(t, sys.url, `{"token":"x"}`, "Authorization", wrong, "X-Forwarded-For", "203.0.113.9")
	if r.code != 429 || r.hdr.Get("Retry-After") == "" {
		t.Fatalf("the attacker past its budget: %d %s", r.code, r.body)
	}
	start := time.Now()
	if r := esRevoke(t, sys.url, `{"token":"x"}`, "X-Forwarded-For", "198.51.100.4"); r.code != 200 {
		t.Fatalf("another client behind the proxy, right password: %d %s", r.code, r.body)
	}
	if took := time.Since(start); took > auth.MaxSlowdown+5*time.Second {
		t.Errorf("the right password took %v", took)
	}
}
