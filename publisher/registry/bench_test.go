package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher/auth"
)

// BenchmarkIngest100k registers 100,000 NDJSON records through the feed's
// parser and the store on an embedded server (no HTTP).
func BenchmarkIngest100k(b *testing.B) {
	ns := natstest.Start(b)
	s, err := ensureOpen(natstest.Connect(b, ns), StoreOptions{Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	p := auth.Superuser(auth.KindClient, "x")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var sb strings.Builder
		exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		for k := 0; k < 100000; k++ {
			fmt.Fprintf(&sb, `{"token":"tok-%d-%d","type":"access_token","realm":"saml1","username":"u%d","client_id":"app","expires_at":%q}`+"\n", i, k, k%10, exp)
		}
		body := sb.String()
		b.StartTimer()
		start := time.Now()
		res := ingest(context.Background(), s, p, limits{maxLifetime: 24 * time.Hour, maxLines: DefaultMaxLines}, strings.NewReader(body), false)
		b.ReportMetric(100000/time.Since(start).Seconds(), "tokens/s")
		if res.Registered != 100000 {
			b.Fatal(res.Errors[:1])
		}
	}
}
