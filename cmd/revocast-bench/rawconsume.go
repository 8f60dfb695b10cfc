package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natsauth"
)

// A bare JetStream consumer: the baseline of the sidecar's CPU per applied
// revocation. It reads the revocation stream as a sidecar does and discards
// every message, so what it costs is what receiving the messages costs: the
// wake-up per message of the client and its pull requests. Like
// BenchmarkSidecarFollow's raw consumer (cmd/revocast/follow_bench_test.go),
// with a sidecar's identity (credentials minted for its name, the one
// consumer that name may create) and a sidecar's consumer.

const rawConsumerMode = "raw-consumer"

// The sidecar's consumer settings (subscriber/consumer.go: its constants
// and consumeOnce), copied: that package does not export them.
const (
	rawMaxPullBytes  = 16 << 20
	rawPullExpiry    = 10 * time.Second
	rawPullHeartbeat = 2 * time.Second
)

// rawConsumerMain is the process: it creates its consumer from the sequence
// after the stream's last (as a sidecar resumes after the last it applied),
// counts what it receives, and serves that count on 127.0.0.1 (GET
// /received: "<first sequence> <messages received>"; /readyz: 200) until
// SIGTERM, then deletes its consumer as a sidecar stopping cleanly does.
func rawConsumerMain(args []string) error {
	fs := flag.NewFlagSet(rawConsumerMode, flag.ContinueOnError)
	url := fs.String("nats-url", "", "NATS server URL")
	creds := fs.String("nats-creds", "", "credentials of a sidecar named --name")
	name := fs.String("name", "", "the sidecar id the credentials name; the consumer's name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(*url, append(natsauth.ClientOptions(*creds, natsauth.Sidecar, *name),
		nats.Name("revocast-bench-"+rawConsumerMode+"-"+*name))...)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := js.Stream(cctx, events.DefaultStreamName)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	first := st.CachedInfo().State.LastSeq + 1
	cfg := jetstream.ConsumerConfig{
		Name:              natsauth.SidecarConsumer(*name),
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       first,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute,
	}
	if err := st.DeleteConsumer(cctx, cfg.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", cfg.Name, err)
	}
	cons, err := st.CreateConsumer(cctx, cfg)
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", cfg.Name, err)
	}
	var received atomic.Uint64
	cc, err := cons.Consume(func(jetstream.Msg) { received.Add(1) },
		jetstream.PullMaxBytes(rawMaxPullBytes), jetstream.PullExpiry(rawPullExpiry), jetstream.PullHeartbeat(rawPullHeartbeat))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer cc.Stop()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/received", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%d %d\n", first, received.Load())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	childLog("info", rawConsumerMode, "listening", "addr", ln.Addr().String(), "consumer", cfg.Name,
		"first_seq", strconv.FormatUint(first, 10))
	<-ctx.Done()
	_ = srv.Close()
	cc.Stop()
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer dcancel()
	_ = st.DeleteConsumer(dctx, cfg.Name)
	return nil
}

// rawConsumer is a bare consumer process of an env.
type rawConsumer struct {
	*child
	name, url string
}

// startRawConsumers starts n bare consumers named prefix-1..n, each with
// sidecar credentials minted for its name, and waits until each consumes.
func (e *env) startRawConsumers(ctx context.Context, prefix string, n int) ([]*rawConsumer, error) {
	raws := make([]*rawConsumer, n)
	for i := range raws {
		name := fmt.Sprintf("%s-%d", prefix, i+1)
		creds, err := e.sidecarCreds(name)
		if err != nil {
			return nil, err
		}
		c, err := e.startSelf(rawConsumerMode+"-"+name, rawConsumerMode, "--nats-url", e.url(), "--nats-creds", creds, "--name", name)
		if err != nil {
			return nil, err
		}
		u, err := c.addr(ctx, rawConsumerMode)
		if err != nil {
			return nil, err
		}
		raws[i] = &rawConsumer{child: c, name: name, url: u}
	}
	for _, r := range raws {
		if err := waitReady(ctx, r.child, r.url); err != nil {
			return nil, err
		}
	}
	return raws, nil
}

// received returns the number of messages the consumer received and the
// stream sequence of the last (it reads from its first without gaps).
func (r *rawConsumer) received(ctx context.Context) (n, last uint64, err error) {
	b, err := get(ctx, r.url+"/received")
	if err != nil {
		return 0, 0, err
	}
	var first uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(b), "%d %d", &first, &n); err != nil {
		return 0, 0, fmt.Errorf("%s: /received %q: %w", r.name, b, err)
	}
	return n, first + n - 1, nil
}

// cpuOfRaw returns the CPU each process has used so far.
func cpuOfRaw(ps []*rawConsumer) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = p.cpu()
	}
	return out
}
