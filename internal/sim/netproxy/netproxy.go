// Package netproxy holds the simulated cluster's network paths, all on
// 127.0.0.1:
//
//   - Proxy, a TCP proxy that can be cut, healed and slowed down: each
//     simulated node (and each outside client such as the operator) reaches
//     the API server through its own Proxy, so a network partition of one
//     node is a Cut of its proxy and latency on the API server is a delay of
//     what its proxies forward back;
//   - Gateway, an HTTP proxy (CONNECT tunnels and absolute-form requests)
//     that stands for one node's network to its peers: a Router says, per
//     connection, whether the peer is reachable and where it really listens,
//     and Recheck drops the open connections a new cut refuses.
package netproxy

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// chunkSize is the most one read forwards at once.
	chunkSize = 32 << 10
	// queuedChunks bounds what a delayed direction holds in flight before
	// it stops reading (back-pressure on that connection only).
	queuedChunks = 64
)

// Proxy forwards TCP connections from a 127.0.0.1 port to a target.
type Proxy struct {
	ln     net.Listener
	target string
	// wg counts the accept loop and every connection's goroutines: Close
	// returns once all of them have.
	wg sync.WaitGroup
	// latency (nanoseconds) delays what the target sends.
	latency atomic.Int64

	mu    sync.Mutex
	cut   bool
	links map[*link]struct{}
}

// link is one forwarded connection: the client's and, once dialled, the
// target's. Closing it closes both and wakes its delayed writer.
type link struct {
	done chan struct{}

	mu     sync.Mutex
	closed bool
	conns  []net.Conn
}

func newLink(in net.Conn) *link {
	return &link{done: make(chan struct{}), conns: []net.Conn{in}}
}

// add records c, or closes it and returns false if the link is closed.
func (l *link) add(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return false
	}
	l.conns = append(l.conns, c)
	return true
}

func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	close(l.done)
	for _, c := range l.conns {
		_ = c.Close()
	}
}

// New listens on a free 127.0.0.1 port and forwards to target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the proxy to %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every open connection and closes new ones at once, as a
// partition would (clients see resets, not hangs: it is the fastest
// failure a client can observe, so timings stay on the safe side).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for l := range p.links {
		l.close()
	}
	p.links = map[*link]struct{}{}
}

// Heal lets connections through again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// IsCut reports whether the proxy is cut.
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// SetLatency delays every chunk the target sends back by d (0: none), on
// open connections too: each chunk is delivered d after the proxy read
// it, in order, without holding up other connections or the client's
// direction. A TLS handshake, every response and every watch event
// through the proxy arrive d late.
func (p *Proxy) SetLatency(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.latency.Store(int64(d))
}

// Latency is what SetLatency set.
func (p *Proxy) Latency() time.Duration { return time.Duration(p.latency.Load()) }

// Close stops listening, drops every connection and waits until every
// goroutine of the proxy has returned.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(in)
	}
}

func (p *Proxy) forward(in net.Conn) {
	defer p.wg.Done()
	l := newLink(in)
	if !p.track(l) {
		_ = in.Close()
		return
	}
	defer p.untrack(l)
	defer l.close()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !l.add(out) {
		return
	}
	up, down := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(up)
		_, _ = io.Copy(out, in)
	}()
	go func() {
		defer close(down)
		p.copyDelayed(l, in, out)
	}()
	// Either side ending ends the connection; what the target sent is
	// delivered first (copyDelayed returns once it is written).
	select {
	case <-up:
	case <-down:
	}
	l.close()
	<-up
	<-down
}

// copyDelayed copies src to dst, each chunk delivered the proxy's latency
// after it was read. A reader and a writer goroutine keep the order and
// let the reader go on while the writer waits.
func (p *Proxy) copyDelayed(l *link, dst, src net.Conn) {
	type chunk struct {
		data []byte
		due  time.Time
	}
	queue := make(chan chunk, queuedChunks)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for c := range queue {
			if wait := time.Until(c.due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-l.done:
					t.Stop()
					return
				}
			}
			if _, err := dst.Write(c.data); err != nil {
				l.close()
				return
			}
		}
	}()
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c := chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(p.Latency())}
			select {
			case queue <- c:
			case <-l.done:
				err = net.ErrClosed
			}
		}
		if err != nil {
			break
		}
	}
	close(queue)
	<-written
}

func (p *Proxy) track(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.links[l] = struct{}{}
	return true
}

func (p *Proxy) untrack(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
}
