package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// BenchmarkSidecarReplay starts a sidecar (the real binary, a process of
// its own, default capacity) on a stream of N live revocations stored as
// batch events, and reports the time from its start to ready, its CPU,
// and its resident memory per revocation: RSS once ready minus the RSS of
// the same sidecar on an empty stream, over N. Beside them, in the same
// run: raw-s, an ordered consumer (this test binary re-run as a process)
// reading the same stream and doing nothing with it, the floor of any
// replay; fixed-MB, what a million of capacity costs an empty sidecar
// (RSS at --cache-capacity 1000000 minus RSS at 1000).
//
// REVOCAST_BENCH_REPLAY_N (1,000,000) sizes it; REVOCAST_BENCH_COMPARE=path
// replays the same revocations stored as JSON batches (as fronts before
// the binary encoding stored them) with another revocast binary, on
// another server in the same run (figures prefixed compare-). Run with
// -benchtime 1x.
func BenchmarkSidecarReplay(b *testing.B) {
	n := envInt("REVOCAST_BENCH_REPLAY_N", 1_000_000)
	for i := 0; i < b.N; i++ {
		bin := natstest.Start(b)
		storeBatches(b, bin.ClientURL(), n, false)
		empty := natstest.Start(b)
		storeBatches(b, empty.ClientURL(), 0, false)

		raw := startBenchProc(b, exec.Command(os.Args[0]), "REVOCAST_BENCH_RAW_CONSUMER="+bin.ClientURL()+";raw;"+
			strconv.Itoa(n/events.MaxBatch)+";all")
		raw.waitLine(b, "ready")
		start := time.Now()
		raw.waitLine(b, "done")
		rawTook := time.Since(start)
		raw.stop()

		small := sidecarRSS(b, binary, empty.ClientURL(), "1000")
		base := sidecarRSS(b, binary, empty.ClientURL(), "")
		r := replay(b, binary, bin.ClientURL())
		b.ReportMetric(r.took.Seconds(), "replay-s")
		b.ReportMetric(rawTook.Seconds(), "raw-s")
		b.ReportMetric(r.cpu.Seconds(), "replay-cpu-s")
		b.ReportMetric(float64(r.rss-base)/float64(n), "rss-B/revocation")
		b.ReportMetric(float64(r.settled-base)/float64(n), "rss-settled-B/revocation")
		b.ReportMetric(float64(base-small)/1e6, "fixed-MB")
		if other := os.Getenv("REVOCAST_BENCH_COMPARE"); other != "" {
			js := natstest.Start(b)
			storeBatches(b, js.ClientURL(), n, true)
			base := sidecarRSS(b, other, empty.ClientURL(), "")
			r := replay(b, other, js.ClientURL())
			b.ReportMetric(r.took.Seconds(), "compare-replay-s")
			b.ReportMetric(r.cpu.Seconds(), "compare-replay-cpu-s")
			b.ReportMetric(float64(r.rss-base)/float64(n), "compare-rss-B/revocation")
			b.ReportMetric(float64(r.settled-base)/float64(n), "compare-rss-settled-B/revocation")
		}
	}
}

// storeBatches creates the stream on the server at url and stores n
// revocations in it as batch events, binary or JSON.
func storeBatches(b *testing.B, url string, n int, asJSON bool) {
	nc, err := natsConnect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := events.EnsureStream(ctx, js, events.StreamOptions{}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	items := make([]events.TokenItem, 0, events.MaxBatch)
	for k, batch := 0, 0; k < n; k++ {
		items = append(items, events.TokenItem{Token: events.TokenKey(fmt.Sprint("replay-", k)), TokenType: events.AccessToken,
			ExpiresAt: now.Add(time.Hour + time.Duration(k)*(23*time.Hour/time.Duration(n)))})
		if len(items) < events.MaxBatch && k < n-1 {
			continue
		}
		ev := events.NewTokenBatch("bench", batch, items, now)
		ev.Origin = "bench"
		data, err := ev.Encode()
		if asJSON {
			data, err = json.Marshal(ev)
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.Publish(ctx, ev.Subject(), data, jetstream.WithMsgTTL(events.MsgTTL(ev.ExpiresAt, now))); err != nil {
			b.Fatal(err)
		}
		items, batch = items[:0], batch+1
	}
}

type replayResult struct {
	took         time.Duration
	cpu          time.Duration
	rss, settled int64 // at ready, and 5 seconds later
}

// replay starts a sidecar of bin on the stream at url and measures it until ready.
func replay(b *testing.B, bin, url string) replayResult {
	start := time.Now()
	p := startBenchProc(b, exec.Command(bin, "subscriber", "--id", "replay", "--subscriber-addr", "127.0.0.1:0", "--nats-url", url))
	defer p.stop()
	l := p.waitLine(b, "replay complete: ready")
	took := time.Since(start)
	if !strings.Contains(l, `"cache_entries"`) {
		b.Fatalf("ready line without cache_entries: %s", l)
	}
	r := replayResult{took: took, cpu: p.cpu(b), rss: p.rss(b)}
	time.Sleep(5 * time.Second)
	r.settled = p.rss(b)
	return r
}

// sidecarRSS is the resident memory of an idle, ready sidecar of bin on
// the stream at url (capacity "" is the default), 5 seconds after ready.
func sidecarRSS(b *testing.B, bin, url, capacity string) int64 {
	args := []string{"subscriber", "--id", "idle", "--subscriber-addr", "127.0.0.1:0", "--nats-url", url}
	if capacity != "" {
		args = append(args, "--cache-capacity", capacity)
	}
	p := startBenchProc(b, exec.Command(bin, args...))
	defer p.stop()
	p.waitLine(b, "replay complete: ready")
	time.Sleep(5 * time.Second)
	return p.rss(b)
}

// rss returns the process's resident set size in bytes.
func (p *benchProc) rss(b *testing.B) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
