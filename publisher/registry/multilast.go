package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// errTooMany: more subjects match than one batched read returns (the
// server's limit is 1,024); the caller lists them another way.
var errTooMany = errors.New("too many matching keys for one batched read")

// multiLast reads the last message of every subject matching the filters
// with one batched direct get (ADR-31, nats-server 2.11 and later): one
// request and its answers on a shared inbox, where a filtered watch creates
// and deletes a consumer on the server (measured at 64 clients: the
// consumer's creation and deletion were 40% of the whole system's CPU).
type multiLast struct {
	nc     *nats.Conn
	api    string // $JS.API.DIRECT.GET.<stream>
	prefix string
	sub    *nats.Subscription
	next   atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan *nats.Msg
}

func newMultiLast(nc *nats.Conn, stream string) (*multiLast, error) {
	m := &multiLast{nc: nc, api: "$JS.API.DIRECT.GET." + stream, prefix: nc.NewInbox(), pending: map[uint64]chan *nats.Msg{}}
	sub, err := nc.Subscribe(m.prefix+".*", m.route)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	// Many lookups at once, each up to 1,025 answers: the default limit of
	// 65,536 pending messages would drop some (an end-of-batch among them,
	// and that lookup would wait out its context), as the store's pipeline
	// found for its acknowledgements; bounded by bytes instead.
	_ = sub.SetPendingLimits(-1, 512<<20)
	m.sub = sub
	return m, nil
}

func (m *multiLast) close() { _ = m.sub.Unsubscribe() }

// route hands an answer to its request. A request's channel holds every
// answer it can get (max+1), so route never blocks; answers to a request
// that gave up are dropped.
func (m *multiLast) route(msg *nats.Msg) {
	id, err := strconv.ParseUint(strings.TrimPrefix(msg.Subject, m.prefix+"."), 10, 64)
	if err != nil {
		return
	}
	m.mu.Lock()
	ch := m.pending[id]
	m.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- msg:
	default: // more answers than asked for: the request fails on the count
	}
}

type multiLastRequest struct {
	MultiLast []string `json:"multi_last"`
	Batch     int      `json:"batch"`
}

// get calls each with the subject, headers and data of the last message of
// every subject matching filters, at most max of them (errTooMany beyond).
func (m *multiLast) get(ctx context.Context, filters []string, max int, each func(subject string, h nats.Header, data []byte)) error {
	req, err := json.Marshal(multiLastRequest{MultiLast: filters, Batch: max + 1})
	if err != nil {
		return err
	}
	id := m.next.Add(1)
	ch := make(chan *nats.Msg, max+2)
	m.mu.Lock()
	m.pending[id] = ch
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.pending, id)
		m.mu.Unlock()
	}()
	if err := m.nc.PublishMsg(&nats.Msg{Subject: m.api, Reply: m.prefix + "." + strconv.FormatUint(id, 10), Data: req}); err != nil {
		return fmt.Errorf("registry lookup: %w", err)
	}
	n := 0
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry lookup: %w", ctx.Err())
		case msg := <-ch:
			switch status := msg.Header.Get("Status"); status {
			case "":
			case "204": // end of batch
				return nil
			case "404": // nothing matches
				return nil
			case "413":
				return errTooMany
			case "503":
				return fmt.Errorf("registry lookup: %w", nats.ErrNoResponders)
			default:
				return fmt.Errorf("registry lookup: the server answered %s %s", status, msg.Header.Get("Description"))
			}
			if n++; n > max {
				return errTooMany
			}
			each(msg.Header.Get("Nats-Subject"), msg.Header, msg.Data)
		}
	}
}
