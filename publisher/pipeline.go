package publisher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoResponders: no stream listens on the subject (JetStream is down or
// the stream does not exist).
var ErrNoResponders = errors.New("no JetStream stream answered")

// DefaultWindow is how many messages one PublishAll keeps in flight.
const DefaultWindow = 4096

// Pipeline publishes to JetStream with many messages in flight on one
// connection and a single inbox subscription for every acknowledgement.
// nats.go's PublishMsgAsync does the same with a future (and channels) per
// message. Side by side (BenchmarkPublish), alone on this 2-core machine,
// both are bound by the server and the pipeline costs 18.0 against 20.6
// CPU-µs per message; in the whole system, where the front, NATS and the
// sidecars share two cores, swapping PublishMsgAsync in behind this API
// dropped the registration of 100,000 tokens from about 85,000 to 54,500
// tokens/s and raised a single revocation's p50 from 0.21 to 0.36 ms.
type Pipeline struct {
	nc     *nats.Conn
	prefix string
	sub    *nats.Subscription
	window int
	nextID atomic.Uint64

	mu      sync.Mutex
	batches map[uint64]*batch
}

// Ack is the answer to one publish.
type Ack struct {
	Seq       uint64
	Duplicate bool
	// Err is a *jetstream.APIError (match its ErrorCode), ErrNoResponders,
	// or the context's error when no answer came in time.
	Err error
}

type batch struct {
	acks      []Ack
	got       []bool
	remaining int
	slots     chan struct{} // one per message in flight
	done      chan struct{}
}

// NewPipeline returns a pipeline; window (DefaultWindow when 0) bounds the
// messages one PublishAll keeps in flight.
func NewPipeline(nc *nats.Conn, window int) (*Pipeline, error) {
	if window <= 0 {
		window = DefaultWindow
	}
	// Under the connection's inbox prefix: NATS permissions confine each
	// identity to its own inboxes.
	p := &Pipeline{nc: nc, prefix: nc.NewInbox(), window: window, batches: make(map[uint64]*batch)}
	sub, err := nc.Subscribe(p.prefix+".>", p.onAck)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	_ = sub.SetPendingLimits(-1, 512<<20)
	p.sub = sub
	return p, nil
}

// Close stops receiving acknowledgements.
func (p *Pipeline) Close() { _ = p.sub.Unsubscribe() }

type pubAck struct {
	Seq       uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate"`
	Error     *jetstream.APIError `json:"error"`
}

func parseAck(m *nats.Msg) Ack {
	if m.Header.Get("Status") == "503" {
		return Ack{Err: ErrNoResponders}
	}
	if a, ok := fastAck(m.Data); ok {
		return a
	}
	var pa pubAck
	if err := json.Unmarshal(m.Data, &pa); err != nil {
		return Ack{Err: fmt.Errorf("unreadable acknowledgement: %w", err)}
	}
	if pa.Error != nil {
		return Ack{Err: pa.Error}
	}
	return Ack{Seq: pa.Seq, Duplicate: pa.Duplicate}
}

// fastAck reads the common acknowledgement, {"stream":"S","seq":N} with
// nothing else (a few hundred thousand of them arrive in a bulk request),
// without encoding/json; anything else takes the general path.
func fastAck(b []byte) (Ack, bool) {
	const key = `,"seq":`
	i := bytes.Index(b, []byte(key))
	if i < 0 || bytes.Contains(b, []byte(`"error"`)) || bytes.Contains(b, []byte(`"duplicate"`)) {
		return Ack{}, false
	}
	rest := b[i+len(key):]
	end := bytes.IndexByte(rest, '}')
	if end <= 0 {
		return Ack{}, false
	}
	seq, err := strconv.ParseUint(string(bytes.TrimSpace(rest[:end])), 10, 64)
	if err != nil {
		return Ack{}, false
	}
	return Ack{Seq: seq}, true
}

func (p *Pipeline) onAck(m *nats.Msg) {
	bs, is, ok := strings.Cut(strings.TrimPrefix(m.Subject, p.prefix+"."), ".")
	bid, err1 := strconv.ParseUint(bs, 10, 64)
	idx, err2 := strconv.Atoi(is)
	if !ok || err1 != nil || err2 != nil {
		return
	}
	a := parseAck(m)
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.batches[bid] // nil: a late answer to an abandoned batch
	if b == nil || idx < 0 || idx >= len(b.acks) || b.got[idx] {
		return
	}
	b.got[idx], b.acks[idx] = true, a
	select {
	case <-b.slots:
	default:
	}
	if b.remaining--; b.remaining == 0 {
		close(b.done)
	}
}

// PublishAll publishes every message (their Reply is overwritten) and
// returns one Ack per message, in order, once all are answered or ctx is
// done. Unanswered messages then carry ctx's error, and may still have been
// stored: retry them with the same message id.
func (p *Pipeline) PublishAll(ctx context.Context, msgs []*nats.Msg) []Ack {
	if len(msgs) == 0 {
		return nil
	}
	bid := p.nextID.Add(1)
	b := &batch{acks: make([]Ack, len(msgs)), got: make([]bool, len(msgs)), remaining: len(msgs),
		slots: make(chan struct{}, p.window), done: make(chan struct{})}
	p.mu.Lock()
	p.batches[bid] = b
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.batches, bid)
		p.mu.Unlock()
	}()
	prefix := p.prefix + "." + strconv.FormatUint(bid, 10) + "."
	for i, m := range msgs {
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			p.failFrom(b, i, ctx.Err())
			return p.wait(ctx, b)
		}
		m.Reply = prefix + strconv.Itoa(i)
		if err := p.nc.PublishMsg(m); err != nil {
			p.failFrom(b, i, err)
			return p.wait(ctx, b)
		}
	}
	return p.wait(ctx, b)
}

func (p *Pipeline) wait(ctx context.Context, b *batch) []Ack {
	select {
	case <-b.done:
	case <-ctx.Done():
		p.failFrom(b, 0, ctx.Err())
	}
	return b.acks
}

// failFrom marks every unanswered message from index from on as failed.
func (p *Pipeline) failFrom(b *batch, from int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; i < len(b.acks); i++ {
		if !b.got[i] {
			b.got[i], b.acks[i] = true, Ack{Err: err}
			if b.remaining--; b.remaining == 0 {
				close(b.done)
			}
		}
	}
}
