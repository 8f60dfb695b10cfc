package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
)

// BenchmarkEventsExportImport measures the real binary's export of 100,000
// batch tokens, 10,000 single tokens and 100 rules (with their 110,000
// ledger marks), its import into a fresh server, and a second import of the
// same file (nothing to store):
//
//	go test -run '^$' -bench EventsExportImport -benchtime 1x ./cmd/revocast/
func BenchmarkEventsExportImport(b *testing.B) {
	const batchTokens, singles, rules = 100_000, 10_000, 100
	src := natstest.Start(b)
	populateBench(b, src, batchTokens, singles, rules)
	records := float64(batchTokens + singles + rules)
	for b.Loop() {
		file := filepath.Join(b.TempDir(), "export.ndjson")
		took := timeRun(b, "events", "export", "--out", file, "--nats-url", src.ClientURL())
		b.ReportMetric(records/took.Seconds(), "export-records/s")

		dst := natstest.Start(b)
		if out, err := exec.Command(binary, "init", "--nats-url", dst.ClientURL()).CombinedOutput(); err != nil {
			b.Fatalf("init: %v %s", err, out)
		}
		took = timeRun(b, "events", "import", "--in", file, "--nats-url", dst.ClientURL())
		b.ReportMetric(records/took.Seconds(), "import-records/s")
		took = timeRun(b, "events", "import", "--in", file, "--nats-url", dst.ClientURL())
		b.ReportMetric(records/took.Seconds(), "reimport-records/s")
	}
}

// timeRun runs the binary and returns how long it took.
func timeRun(b *testing.B, args ...string) time.Duration {
	b.Helper()
	start := time.Now()
	cmd := exec.Command(binary, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("revocast %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	b.Logf("%s: %s", args[1], lines[len(lines)-1])
	if args[1] == "import" {
		var s importSummary
		if err := json.Unmarshal(out, &s); err != nil {
			b.Fatal(err)
		}
		b.Logf("import summary: %s", out)
	}
	return took
}

// populateBench stores what fronts would for the benchmark: the tokens in
// batches and alone, rules, and every ledger mark.
func populateBench(b *testing.B, s *server.Server, batchTokens, singles, rules int) {
	b.Helper()
	nc := natstest.Connect(b, s)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	o := events.StreamOptions{}
	if _, err := events.EnsureStream(context.Background(), js, o); err != nil {
		b.Fatal(err)
	}
	store, err := publisher.NewJetStreamStore(nc, time.Minute, publisher.StoreMetrics{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	exp := now.Add(time.Hour)
	var evs, marks []publisher.Entry
	add := func(ev events.Event, id string) {
		e, err := publisher.EventEntry(ev, o.Config().Name, id)
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, e)
	}
	var items []events.TokenItem
	for i := range batchTokens {
		sum := events.TokenKey(fmt.Sprint("bench-batch-", i))
		items = append(items, events.TokenItem{Token: sum, ExpiresAt: exp})
		marks = append(marks, publisher.LedgerEntry(sum, "bench", exp, o.LedgerName(), "m."+sum.String()))
		if len(items) == events.MaxBatch || i == batchTokens-1 {
			add(events.NewTokenBatch("benchreq", i/events.MaxBatch, items, now), fmt.Sprint("b.", i))
			items = nil
		}
	}
	for i := range singles {
		sum := events.TokenKey(fmt.Sprint("bench-single-", i))
		ev := events.NewTokenRevocation(sum, events.AccessToken, exp, now)
		ev.Realm = "bench"
		add(ev, "s."+sum.String())
		marks = append(marks, publisher.LedgerEntry(sum, "bench", exp, o.LedgerName(), "m."+sum.String()))
	}
	for i := range rules {
		r := events.Rule{Scope: events.ScopeRealmUser, Realm: "bench", User: fmt.Sprint("user-", i)}
		add(events.NewRule(r, now, time.Hour), "r."+r.Key())
		marks = append(marks, publisher.LedgerRuleEntry(r, exp, o.LedgerName(), "mr."+r.Key()))
	}
	for _, set := range [][]publisher.Entry{evs, marks} {
		for from := 0; from < len(set); from += 10_000 {
			part := set[from:min(from+10_000, len(set))]
			for i, out := range store.Append(context.Background(), part) {
				if out.Status != publisher.Stored {
					b.Fatalf("populate %s: %v %v", part[i].Subject, out.Status, out.Err)
				}
			}
		}
	}
}
