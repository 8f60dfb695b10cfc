package eventsio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Scan reads a stream (or the subjects cfg filters) once, from its first
// message to what is the last when it gets there, with an ordered consumer,
// and hands every message to fn. It returns when nothing is left to deliver;
// an error from fn stops it.
func Scan(ctx context.Context, st jetstream.Stream, cfg jetstream.OrderedConsumerConfig, fn func(jetstream.Msg) error) error {
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", info.Config.Name, err)
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(16 << 20))
	if err != nil {
		return fmt.Errorf("read %s: %w", info.Config.Name, err)
	}
	defer it.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := it.Next(jetstream.NextMaxWait(2 * time.Second))
		if errors.Is(err, nats.ErrTimeout) {
			// Nothing arrived: the rest may have expired meanwhile.
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			ci, ierr := cons.Info(c)
			cancel()
			if ierr == nil && ci.NumPending == 0 {
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", info.Config.Name, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", info.Config.Name, err)
		}
		if err := fn(m); err != nil {
			return err
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}
