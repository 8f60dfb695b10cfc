package publisher

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// BenchmarkPublish compares, side by side, Pipeline with nats.go's
// PublishMsgAsync for the store's kind of message (a ledger mark: TTL,
// expected last subject sequence 0, a message id header), 10,000 per op.
// Alone on the machine both are bound by the server's processing, so
// msgs/s is about equal; cpu-us/msg (the whole process: client and embedded
// server) shows what the client's machinery costs, which is what decides
// throughput when the front, NATS and sidecars share two cores.
func BenchmarkPublish(b *testing.B) {
	const n = 10_000
	msgs := func(round int) []*nats.Msg {
		out := make([]*nats.Msg, n)
		for i := range out {
			m := nats.NewMsg(events.LedgerSubject(events.TokenKey(fmt.Sprint(round, "-", i))))
			m.Header.Set(jetstream.MsgTTLHeader, "3600s")
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			m.Header.Set(ownHeader, "bench")
			out[i] = m
		}
		return out
	}
	setup := func(b *testing.B) (*nats.Conn, jetstream.JetStream) {
		ns := natstest.Start(b)
		nc := natstest.Connect(b, ns)
		js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(DefaultWindow))
		if _, err := events.EnsureStream(context.Background(), js, events.StreamOptions{}); err != nil {
			b.Fatal(err)
		}
		return nc, js
	}
	b.Run("pipeline", func(b *testing.B) {
		nc, _ := setup(b)
		p, err := NewPipeline(nc, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			batch := msgs(i)
			b.StartTimer()
			for _, a := range p.PublishAll(context.Background(), batch) {
				if a.Err != nil {
					b.Fatal(a.Err)
				}
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N*n), "cpu-us/msg")
	})
	b.Run("PublishMsgAsync", func(b *testing.B) {
		_, js := setup(b)
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			batch := msgs(i)
			b.StartTimer()
			futs := make([]jetstream.PubAckFuture, n)
			for k, m := range batch {
				f, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
				if err != nil {
					b.Fatal(err)
				}
				futs[k] = f
			}
			for _, f := range futs {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N*n), "cpu-us/msg")
	})
}

// cpuTime is the process's user and system CPU time so far (message
// preparation, between timed sections, is counted in both alike).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
