package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
	"github.com/revocast/revocast/publisher"
)

// BenchmarkSidecarFollow measures what following a live stream costs a
// sidecar: K sidecars (the real binary, each a process of its own) follow
// single-token revocations stored at R per second, as the front stores them.
// It reports, per sidecar, the CPU per applied revocation (utime+stime from
// /proc), beside the CPU per message of K raw JetStream consumers (this test
// binary re-run as a bare pull consumer, same pull settings, discarding
// what it receives) fed the same rate in the same run; the sidecar-side p99
// (the sidecars' own revoke-to-applied histogram, as the bucket bound it
// falls in); and revoke-to-confirmed: from handing an event to the store to
// every sidecar's watermark passing its sequence, what a front waits for.
//
// REVOCAST_BENCH_SIDECARS (8), REVOCAST_BENCH_RATE (1000 per second) and
// REVOCAST_BENCH_SECONDS (10) size it; REVOCAST_BENCH_COMPARE=path runs the
// sidecars of another revocast binary first, on the same server in the
// same run (its figures are prefixed compare-); REVOCAST_BENCH_PROFILE=file
// writes a CPU profile of the first sidecar of each binary over the window
// (file.<binary name>). Run with -benchtime 1x.
func BenchmarkSidecarFollow(b *testing.B) {
	k, rate, secs := envInt("REVOCAST_BENCH_SIDECARS", 8), envInt("REVOCAST_BENCH_RATE", 1000), envInt("REVOCAST_BENCH_SECONDS", 10)
	n := rate * secs
	for i := 0; i < b.N; i++ {
		ns := natstest.Start(b)
		nc := natstest.Connect(b, ns)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := events.EnsureStream(context.Background(), js, events.StreamOptions{}); err != nil {
			b.Fatal(err)
		}
		store, err := publisher.NewJetStreamStore(nc, 10*time.Second, publisher.StoreMetrics{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(store.Close)

		// The baseline: raw consumers, each a process.
		var raws []*benchProc
		for j := 0; j < k; j++ {
			p := startBenchProc(b, exec.Command(os.Args[0]), "REVOCAST_BENCH_RAW_CONSUMER="+ns.ClientURL()+";raw"+strconv.Itoa(j)+";"+strconv.Itoa(n))
			p.waitLine(b, "ready")
			raws = append(raws, p)
		}
		cpu0 := make([]time.Duration, k)
		for j, p := range raws {
			cpu0[j] = p.cpu(b)
		}
		storeAtRate(b, store, "raw", n, rate, nil)
		var rawCPU time.Duration
		for j, p := range raws {
			p.waitLine(b, "done")
			rawCPU += p.cpu(b) - cpu0[j]
			p.stop()
		}

		// The sidecars: another binary's first when asked (a baseline in
		// the same run), then this one's.
		type phase struct{ name, bin string }
		phases := []phase{{"", binary}}
		if other := os.Getenv("REVOCAST_BENCH_COMPARE"); other != "" {
			phases = []phase{{"compare-", other}, {"", binary}}
		}
		for _, ph := range phases {
			r := followPhase(b, ns.ClientURL(), nc, store, ph.bin, k, n, rate, secs)
			b.ReportMetric(r.cpu, ph.name+"sidecar-cpu-us/rev")
			b.ReportMetric(r.bound, ph.name+"sidecar-p99-ms(bucket<=)")
			b.ReportMetric(r.within5ms, ph.name+"sidecar-%<=5ms")
			b.ReportMetric(r.p50, ph.name+"confirmed-p50-ms")
			b.ReportMetric(r.p99, ph.name+"confirmed-p99-ms")
			// A rebuild replays the stream: its CPU and its events' lags
			// count in the figures above (main's check of the stream can
			// mistake a message stored while it asks for a lost one).
			b.ReportMetric(r.rebuilds, ph.name+"rebuilds")
		}
		b.ReportMetric(float64(rawCPU.Microseconds())/float64(k*n), "raw-consume-cpu-us/msg")
	}
}

type followResult struct{ cpu, bound, within5ms, p50, p99, rebuilds float64 }

// followPhase starts k sidecars of bin, waits until they are ready, stores
// n revocations at rate and measures them until every sidecar confirmed
// the last; then stops them.
func followPhase(b *testing.B, url string, nc *nats.Conn, store *publisher.JetStreamStore, bin string, k, n, rate, secs int) followResult {
	var sides []*benchProc
	var addrs []string
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	conf := newConfirmations(b, nc, id, k, n) // before they start: none of their watermarks is missed
	for j := 0; j < k; j++ {
		args := []string{"subscriber", "--id", "s" + strconv.Itoa(j) + "-" + id, "--subscriber-addr", "127.0.0.1:0", "--nats-url", url}
		if j == 0 && os.Getenv("REVOCAST_BENCH_PROFILE") != "" {
			args = append(args, "--pprof-addr", "127.0.0.1:0")
		}
		p := startBenchProc(b, exec.Command(bin, args...))
		sides = append(sides, p)
		addrs = append(addrs, p.listening(b, "subscriber"))
	}
	defer func() {
		for _, p := range sides {
			p.stop()
		}
	}()
	for _, a := range addrs {
		deadline := time.Now().Add(60 * time.Second)
		for httpGetCode(a+"/readyz") != 200 {
			if time.Now().After(deadline) {
				b.Fatal("sidecar not ready within 60s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Ready, they have applied the stream as it was; the watermark comes
	// after the revoke-to-applied figures of the last batch are counted.
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	st, err := js.Stream(context.Background(), events.DefaultStreamName)
	if err != nil {
		b.Fatal(err)
	}
	conf.waitAll(b, st.CachedInfo().State.LastSeq, 60*time.Second)
	var before latencyHistogram // what the replay of earlier revocations counted
	for _, a := range addrs {
		before.scrape(b, a+"/metrics")
	}
	cpu0 := make([]time.Duration, k)
	for j, p := range sides {
		cpu0[j] = p.cpu(b)
	}
	var prof chan []byte
	if path := os.Getenv("REVOCAST_BENCH_PROFILE"); path != "" {
		prof = make(chan []byte, 1)
		pprofURL := sides[0].listening(b, "pprof")
		go func() {
			r, err := http.Get(pprofURL + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs))
			if err != nil {
				prof <- nil
				return
			}
			defer r.Body.Close()
			body, _ := io.ReadAll(r.Body)
			prof <- body
		}()
	}
	lastSeq := storeAtRate(b, store, "side"+id, n, rate, conf)
	conf.waitAll(b, lastSeq, 60*time.Second)
	var sideCPU time.Duration
	for j, p := range sides {
		sideCPU += p.cpu(b) - cpu0[j]
	}
	if prof != nil {
		if body := <-prof; len(body) > 0 {
			_ = os.WriteFile(os.Getenv("REVOCAST_BENCH_PROFILE")+"."+filepath.Base(bin), body, 0o644)
		}
	}
	var hist latencyHistogram
	for _, a := range addrs {
		hist.scrape(b, a+"/metrics")
	}
	hist.subtract(&before)
	if os.Getenv("REVOCAST_BENCH_DEBUG") != "" {
		fmt.Printf("before %+v\nafter %+v\n", before, hist)
		for _, p := range sides {
			p.mu.Lock()
			for _, l := range p.lines {
				if !strings.Contains(l, `"level":"info"`) {
					fmt.Println(l)
				}
			}
			p.mu.Unlock()
		}
	}
	p50, p99 := conf.percentiles()
	return followResult{cpu: float64(sideCPU.Microseconds()) / float64(k*n), bound: hist.quantileBound(0.99) * 1000,
		within5ms: 100 * hist.fractionAtMost(0.005), p50: p50, p99: p99, rebuilds: hist.rebuilds - before.rebuilds}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// storeAtRate stores n single-token revocations, rate per second, each
// through the front's store (message id, TTL, expected stream) in a
// goroutine of its own, and returns the last sequence stored. conf, when
// set, learns when each was handed to the store.
func storeAtRate(b *testing.B, store *publisher.JetStreamStore, prefix string, n, rate int, conf *confirmations) uint64 {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last uint64
	start := time.Now()
	for sent := 0; sent < n; {
		due := min(n, int(time.Since(start).Seconds()*float64(rate))+1)
		for ; sent < due; sent++ {
			now := time.Now()
			ev := events.NewTokenRevocation(events.TokenKey(fmt.Sprintf("%s-%d-%d", prefix, sent, now.UnixNano())),
				events.AccessToken, now.Add(time.Hour), now)
			ev.RequestID, ev.Origin = fmt.Sprintf("%s%d", prefix, sent), "bench"
			e, err := publisher.EventEntry(ev, events.DefaultStreamName, ev.RequestID)
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := store.Append(context.Background(), []publisher.Entry{e})
				if out[0].Status != publisher.Stored {
					b.Errorf("store: %v", out[0].Err)
					return
				}
				if conf != nil {
					conf.sent(out[0].Seq, now)
				}
				mu.Lock()
				last = max(last, out[0].Seq)
				mu.Unlock()
			}()
		}
		time.Sleep(200 * time.Microsecond)
	}
	wg.Wait()
	return last
}

// confirmations follows the sidecars' watermarks and records, per
// sequence, when every sidecar had passed it.
type confirmations struct {
	k  int
	mu sync.Mutex
	wm map[string]uint64
	// by sequence: when it was handed to the store, when all confirmed it
	sentAt, confAt map[uint64]time.Time
	upTo           uint64 // every sequence up to it is confirmed
	changed        chan struct{}
}

func newConfirmations(b *testing.B, nc *nats.Conn, suffix string, k, n int) *confirmations {
	c := &confirmations{k: k, wm: map[string]uint64{}, sentAt: make(map[uint64]time.Time, n),
		confAt: make(map[uint64]time.Time, n), changed: make(chan struct{}, 1)}
	sub, err := nc.Subscribe("revocast.status.*."+events.StatusApplied, func(m *nats.Msg) {
		w, err := events.DecodeWatermark(m.Data)
		if err != nil {
			return
		}
		now := time.Now()
		id, _, _, _ := events.ParseStatusSubject(m.Subject)
		if !strings.HasSuffix(id, "-"+suffix) {
			return // a sidecar of another phase
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.wm[id] = max(c.wm[id], w.Seq)
		if len(c.wm) < c.k {
			return
		}
		low := w.Seq
		for _, s := range c.wm {
			low = min(low, s)
		}
		for ; c.upTo < low; c.upTo++ {
			c.confAt[c.upTo+1] = now
		}
		select {
		case c.changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	return c
}

func (c *confirmations) sent(seq uint64, at time.Time) {
	c.mu.Lock()
	c.sentAt[seq] = at
	c.mu.Unlock()
}

func (c *confirmations) waitAll(b *testing.B, seq uint64, timeout time.Duration) {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		done := c.upTo >= seq
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			b.Fatalf("the sidecars did not all confirm sequence %d within %s", seq, timeout)
		}
	}
}

// percentiles returns the p50 and p99 of revoke-to-confirmed, in ms.
func (c *confirmations) percentiles() (p50, p99 float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lat []time.Duration
	for seq, at := range c.sentAt {
		if conf, ok := c.confAt[seq]; ok {
			lat = append(lat, max(conf.Sub(at), 0))
		}
	}
	if len(lat) == 0 {
		return 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	return at(0.50), at(0.99)
}

// latencyHistogram sums the sidecars' revoke-to-applied histograms.
type latencyHistogram struct {
	rebuilds float64 // and the rebuilds, summed
	bounds   []float64
	counts   map[float64]float64 // cumulative, per upper bound
	total    float64
}

func (h *latencyHistogram) scrape(b *testing.B, url string) {
	r, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Body.Close()
	if h.counts == nil {
		h.counts = map[float64]float64{}
	}
	sc := bufio.NewScanner(r.Body)
	const prefix = `revocast_subscriber_revoke_to_applied_seconds_bucket{le="`
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "revocast_subscriber_rebuilds_total "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			h.rebuilds += n
		}
		line, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, rest, _ := strings.Cut(line, `"} `)
		v, _ := strconv.ParseFloat(rest, 64)
		bound, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			h.total += v
			continue
		}
		if err != nil {
			continue
		}
		if _, seen := h.counts[bound]; !seen {
			h.bounds = append(h.bounds, bound)
			sort.Float64s(h.bounds)
		}
		h.counts[bound] += v
	}
}

// subtract removes what o counted (an earlier scrape of the same sidecars).
func (h *latencyHistogram) subtract(o *latencyHistogram) {
	h.total -= o.total
	for bound, v := range o.counts {
		h.counts[bound] -= v
	}
}

// quantileBound is the smallest bucket bound holding at least q of the observations.
func (h *latencyHistogram) quantileBound(q float64) float64 {
	for _, bound := range h.bounds {
		if h.counts[bound] >= q*h.total {
			return bound
		}
	}
	return -1
}

func (h *latencyHistogram) fractionAtMost(bound float64) float64 {
	if h.total == 0 {
		return 0
	}
	return h.counts[bound] / h.total
}

func httpGetCode(url string) int {
	r, err := http.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode
}

// benchProc is a process of a benchmark: its output read line by line,
// its CPU read from /proc.
type benchProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

func startBenchProc(b *testing.B, cmd *exec.Cmd, env ...string) *benchProc {
	cmd.Env = append(os.Environ(), env...)
	p := &benchProc{cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // revocast logs on stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	b.Cleanup(p.stop)
	return p
}

// waitLine waits for a line containing s and returns it.
func (p *benchProc) waitLine(b *testing.B, s string) string {
	deadline := time.After(60 * time.Second)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.Contains(l, s) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.more:
		case <-p.done:
			b.Fatalf("%s exited before printing %q:\n%s", p.cmd.Path, s, strings.Join(p.lines, "\n"))
		case <-deadline:
			b.Fatalf("%s did not print %q within 60s", p.cmd.Path, s)
		}
	}
}

// listening returns the URL of a revocast component from its log.
func (p *benchProc) listening(b *testing.B, component string) string {
	l := p.waitLine(b, `"component":"`+component+`","addr":"`)
	_, rest, _ := strings.Cut(l, `"addr":"`)
	addr, _, _ := strings.Cut(rest, `"`)
	return "http://" + addr
}

// cpu returns the user and system CPU the process has used.
func (p *benchProc) cpu(b *testing.B) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which is in parentheses): utime and
	// stime are the 12th and 13th, in clock ticks (100 per second).
	_, rest, _ := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (p *benchProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// A raw consumer: this test binary run with REVOCAST_BENCH_RAW_CONSUMER set
// to url;name;count[;all] consumes count messages of the stream and does
// nothing else with them, prints "done" and waits for its standard input to
// close. By default it reads new messages with the sidecar's pull settings;
// with "all", the whole stream with an ordered consumer.
func init() {
	spec := os.Getenv("REVOCAST_BENCH_RAW_CONSUMER")
	if spec == "" {
		return
	}
	parts := strings.Split(spec, ";")
	n, _ := strconv.Atoi(parts[2])
	if err := rawConsume(parts[0], parts[1], n, len(parts) > 3 && parts[3] == "all"); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func natsConnect(url string) (*nats.Conn, error) { return nats.Connect(url) }

func rawConsume(url, name string, n int, all bool) error {
	nc, err := natsConnect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.DefaultStreamName)
	if err != nil {
		return err
	}
	var cons jetstream.Consumer
	var opts []jetstream.PullConsumeOpt
	if all {
		cons, err = st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	} else {
		cons, err = st.CreateConsumer(ctx, jetstream.ConsumerConfig{Name: name, DeliverPolicy: jetstream.DeliverNewPolicy,
			AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, Replicas: 1, InactiveThreshold: time.Minute})
		opts = []jetstream.PullConsumeOpt{jetstream.PullMaxBytes(16 << 20), jetstream.PullExpiry(10 * time.Second),
			jetstream.PullHeartbeat(2 * time.Second)}
	}
	if err != nil {
		return err
	}
	got := make(chan struct{})
	count := 0
	fmt.Println("ready")
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if count++; count == n {
			close(got)
		}
	}, opts...)
	if err != nil {
		return err
	}
	defer cc.Stop()
	<-got
	fmt.Println("done")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
