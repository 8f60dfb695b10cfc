package subscriber

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The sidecar reads the stream through one consumer named after its id,
// the only consumer NATS permissions let it create, read, pull from and
// delete (NATS matches whole subject tokens, so nats.go's ordered
// consumers, named <prefix>_<n>, cannot be granted one sidecar at a time).
// It does what an ordered consumer does: no acknowledgements, memory
// storage, one replica; and when a delivery is missing (a gap in the
// consumer's sequence), the heartbeats stop, or the consumer is gone, it
// re-creates it after the last sequence applied.

// Pull settings: by bytes, not messages (a batch event is about 70 KiB, and
// thousands of them buffered would overflow the subscription), and
// heartbeats often enough to notice a lost consumer within seconds.
const (
	maxPullBytes  = 16 << 20
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 2 * time.Second
)

// resumeError ends a consumer's life when it must be re-created.
type resumeError struct{ reason string }

func (e resumeError) Error() string { return "resume: " + e.reason }

// requestResume asks for the consumer to be re-created after the last
// applied sequence.
func (s *Subscriber) requestResume(reason string) {
	select {
	case s.resume <- reason:
	default:
	}
}

// consumeOnce creates the consumer from the sequence after the last applied
// one, delivers to onMsg until ctx is done or maintain returns (a rebuild,
// a resume), then stops it and applies what it received.
func (s *Subscriber) consumeOnce(ctx context.Context, stream jetstream.Stream) error {
	cfg := jetstream.ConsumerConfig{
		Name:              s.cfg.ID,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute,
	}
	if next := s.applied.Load() + 1; next > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, next
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := stream.DeleteConsumer(c, cfg.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return stopped(ctx, fmt.Errorf("subscriber: delete consumer %s: %w", cfg.Name, err))
	}
	cons, err := stream.CreateConsumer(c, cfg)
	if err != nil {
		return stopped(ctx, fmt.Errorf("subscriber: create consumer %s: %w", cfg.Name, err))
	}
	gen := s.gen.Add(1)
	s.nextConsSeq.Store(1)
	s.consMu.Lock()
	s.consumer = cons
	s.consMu.Unlock()
	cc, err := cons.Consume(func(m jetstream.Msg) { s.deliver(gen, m) },
		jetstream.PullMaxBytes(maxPullBytes), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			switch {
			case errors.Is(err, jetstream.ErrNoHeartbeat), errors.Is(err, jetstream.ErrConsumerDeleted),
				errors.Is(err, jetstream.ErrConsumerNotFound):
				s.requestResume(err.Error())
			default:
				s.log.Warn().Err(err).Msg("consumer")
			}
		}))
	if err != nil {
		return stopped(ctx, fmt.Errorf("subscriber: consume: %w", err))
	}
	err = s.maintain(ctx)
	if err != nil {
		s.gen.Add(1) // what is still in flight is not applied
		cc.Stop()
	} else {
		cc.Drain()
	}
	select {
	case <-cc.Closed():
	case <-time.After(5 * time.Second):
		s.log.Warn().Msg("consumer did not stop within 5s")
	}
	s.consMu.Lock()
	s.consumer = nil
	s.consMu.Unlock()
	s.flush()
	if err == nil { // a clean stop: leave no consumer behind
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer dcancel()
		_ = stream.DeleteConsumer(dctx, cfg.Name)
	}
	return err
}

// deliver hands a message of consumer generation gen to onMsg, unless that
// consumer was replaced, or a delivery before it is missing: then the
// consumer is re-created after the last sequence applied.
func (s *Subscriber) deliver(gen uint64, m jetstream.Msg) {
	if s.gen.Load() != gen {
		return
	}
	meta, err := m.Metadata()
	if err == nil && meta.Sequence.Consumer != s.nextConsSeq.Load() {
		s.gen.Add(1) // drop the rest of this consumer's deliveries
		s.requestResume(fmt.Sprintf("delivery %d arrived where %d was expected", meta.Sequence.Consumer, s.nextConsSeq.Load()))
		return
	}
	s.nextConsSeq.Add(1)
	s.onMsg(m)
}
