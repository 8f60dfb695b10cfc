package oam

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/revocast/revocast/publisher/auth"
)

// After the burst of failures, even the right secret is refused with 429
// and a Retry-After; the core is never reached.
func TestRateLimitedAfterTheBurst(t *testing.T) {
	store, err := auth.NewStore(auth.Config{FailuresPerMinute: 1, FailureBurst: 2, Credentials: []auth.Credential{
		{Kind: auth.KindClient, ID: "DemoClientId", SecretHash: mustHash("welcome1"), Allow: []string{"oam"}, Realms: []string{"DemoDomain"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	core := newCore()
	h := New(core, Options{Auth: store})
	const from = "198.51.100.7:5555"
	for i := 0; i < 2; i++ {
		w := do(h, call{remote: from, auth: "Basic " + b64("DemoClientId:wrong"), body: "token=a"})
		checkAnswer(t, w, 401, errBody("invalid_client", "Client authentication failed"),
			map[string]string{"WWW-Authenticate": `Basic realm="oauth2"`})
	}
	w := do(h, call{remote: from, body: "token=a"})
	// One failure a minute refills in 60s; a slow machine may take a little
	// of that between the failure and this request.
	n, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || n < 50 || n > 60 {
		t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
	}
	checkAnswer(t, w, 429, errBody("too_many_requests", fmt.Sprintf("too many failed authentication attempts; retry after %d seconds", n)),
		map[string]string{"Retry-After": strconv.Itoa(n)})
	if len(core.requests()) != 0 {
		t.Error("a rate-limited request reached the core")
	}
}
