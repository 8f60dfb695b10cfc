package publisher

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// epochReader reads the revocation stream's creation time for requests
// whose events were just acknowledged. A read that starts after a request's
// acknowledgements names the stream its events are in: the epoch a front
// remembers can be a deleted stream's (it is refreshed every few seconds),
// and a sidecar still on that stream, whose watermark is past the new
// stream's first sequences, would confirm revocations it never saw.
// Concurrent requests share reads: one runs at a time, and every request
// that arrives meanwhile is answered by the next.
type epochReader struct {
	js     jetstream.JetStream
	stream string

	mu      sync.Mutex
	next    *epochRead // the read the next caller joins
	running bool
}

type epochRead struct {
	done  chan struct{}
	epoch int64 // Unix ns; 0 when it could not be read
}

// epochAttempt bounds one stream-info request: a lost answer is asked again.
const epochAttempt = 250 * time.Millisecond

// after returns the creation time (Unix ns) read by a request sent after
// the call, or 0 when none succeeded before ctx was done.
func (r *epochReader) after(ctx context.Context) int64 {
	for ctx.Err() == nil {
		r.mu.Lock()
		if r.next == nil {
			r.next = &epochRead{done: make(chan struct{})}
		}
		rd := r.next
		if !r.running {
			r.running = true
			go r.loop()
		}
		r.mu.Unlock()
		select {
		case <-rd.done:
			if rd.epoch != 0 {
				return rd.epoch
			}
		case <-ctx.Done():
		}
	}
	return 0
}

func (r *epochReader) loop() {
	for {
		r.mu.Lock()
		rd := r.next
		r.next = nil
		if rd == nil {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), epochAttempt)
		if st, err := r.js.Stream(ctx, r.stream); err == nil {
			rd.epoch = st.CachedInfo().Created.UnixNano()
		}
		cancel()
		close(rd.done)
	}
}
