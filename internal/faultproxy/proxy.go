package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy relays NATS client connections from its loopback address to one
// server and injects faults on them.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu         sync.Mutex
	links      map[*link]struct{}
	blackhole  bool
	dropPrefix []byte
	dropUntil  time.Time
	closed     bool

	dropped   atomic.Int64
	accepted  atomic.Int64
	connected atomic.Int64
}

// link is one relayed client connection; server is nil while it is
// black-holed from the start.
type link struct {
	client, server net.Conn
	// tainted: something was discarded, so the protocol state on either
	// side may be broken; Restore closes it.
	tainted atomic.Bool
	once    sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		_ = l.client.Close()
		if l.server != nil {
			_ = l.server.Close()
		}
	})
}

// Start listens on a free loopback port and relays each connection to
// target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{target: target, ln: ln, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's nats:// URL.
func (p *Proxy) URL() string { return "nats://" + p.Addr() }

// Dropped counts the frames dropped so far.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// Connections counts the client connections relayed to the server so far.
func (p *Proxy) Connections() int64 { return p.connected.Load() }

// DropFor drops, from now for d, every server→client MSG and HMSG frame
// whose subject starts with prefix. The connections stay up.
func (p *Proxy) DropFor(prefix string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropPrefix, p.dropUntil = []byte(prefix), time.Now().Add(d)
}

// Cut closes every relayed connection; new ones are relayed (unless the
// proxy is black-holed).
func (p *Proxy) Cut() {
	p.mu.Lock()
	links := p.takeLinksLocked()
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Blackhole stops relaying: the open connections stay open but pass
// nothing either way, and new ones are accepted and never answered.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = true
}

// Restore relays again. Connections that lost bytes while black-holed are
// closed (their protocol state is broken), so their clients reconnect.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.blackhole = false
	var broken []*link
	for l := range p.links {
		if l.server == nil || l.tainted.Load() {
			broken = append(broken, l)
			delete(p.links, l)
		}
	}
	p.mu.Unlock()
	for _, l := range broken {
		l.close()
	}
}

// Close stops listening, closes every connection and waits for the relays.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	links := p.takeLinksLocked()
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

func (p *Proxy) takeLinksLocked() []*link {
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
	}
	clear(p.links)
	return out
}

func (p *Proxy) holed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blackhole
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		l := &link{client: c}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		holed := p.blackhole
		if !holed {
			// Dial under the lock: a Cut or Restore meanwhile sees the
			// whole link. Loopback dials are quick.
			s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
			if err != nil {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			l.server = s
			p.connected.Add(1)
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		if holed {
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.swallow(l) }()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.upstream(l) }()
		go func() { defer p.wg.Done(); p.downstream(l) }()
	}
}

// swallow reads what a black-holed client sends until it is closed.
func (p *Proxy) swallow(l *link) {
	_, _ = io.Copy(io.Discard, l.client)
	l.close()
}

// upstream relays client→server bytes, discarding them while black-holed.
func (p *Proxy) upstream(l *link) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := l.client.Read(buf)
		if n > 0 {
			if p.holed() {
				l.tainted.Store(true)
			} else if _, werr := l.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// downstream relays server→client frames, dropping the MSG and HMSG frames
// the drop window selects, and every frame while black-holed.
func (p *Proxy) downstream(l *link) {
	defer l.close()
	br := bufio.NewReaderSize(l.server, 64<<10)
	bw := bufio.NewWriterSize(l.client, 64<<10)
	for {
		frame, subject, err := readFrame(br)
		if err != nil {
			return
		}
		switch {
		case p.holed():
			l.tainted.Store(true)
		case subject != nil && p.dropping(subject):
			p.dropped.Add(1)
		default:
			if _, err := bw.Write(frame); err != nil {
				return
			}
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

func (p *Proxy) dropping(subject []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.dropPrefix) > 0 && time.Now().Before(p.dropUntil) && bytes.HasPrefix(subject, p.dropPrefix)
}

// errProtocol: the server sent something that is not a NATS frame.
var errProtocol = errors.New("faultproxy: unreadable frame from the server")

// readFrame reads one server→client frame: a control line, or a MSG or
// HMSG line with its payload. subject is set for MSG and HMSG.
func readFrame(br *bufio.Reader) (frame, subject []byte, err error) {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, nil, err
	}
	fields := bytes.Fields(line)
	if len(fields) == 0 {
		return line, nil, nil
	}
	var size int
	switch op := string(bytes.ToUpper(fields[0])); {
	case op == "MSG" && (len(fields) == 4 || len(fields) == 5):
		size, err = strconv.Atoi(string(fields[len(fields)-1]))
	case op == "HMSG" && (len(fields) == 5 || len(fields) == 6):
		size, err = strconv.Atoi(string(fields[len(fields)-1])) // the total: headers and payload
	default:
		return line, nil, nil
	}
	if err != nil || size < 0 {
		return nil, nil, fmt.Errorf("%w: %q", errProtocol, line)
	}
	frame = make([]byte, len(line)+size+2)
	copy(frame, line)
	if _, err := io.ReadFull(br, frame[len(line):]); err != nil {
		return nil, nil, err
	}
	return frame, fields[1], nil
}
