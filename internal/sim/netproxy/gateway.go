package netproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// dialTimeout bounds connecting to where a Router sends a connection.
const dialTimeout = 5 * time.Second

// Router decides where a connection to target (the host:port a client
// asked for) goes: the address to dial, or an error saying why the target
// is unreachable. It is called for every new connection and, by Recheck,
// for every open one; it must be quick and must not wait for the caller of
// Recheck.
type Router func(target string) (addr string, err error)

// Gateway is an HTTP proxy on 127.0.0.1 standing for one machine's network
// to its peers. It serves CONNECT (a tunnel: what Go's net/http does for
// https:// URLs through HTTPS_PROXY) and absolute-form requests (what it
// does for http:// URLs through HTTP_PROXY); both reach only what the
// Router allows. A refused CONNECT is answered 502 with the Router's reason
// as the status text; a refused plain request has its connection dropped,
// as an unreachable peer would (a 502 response would read as the peer's
// own answer).
type Gateway struct {
	ln        net.Listener
	srv       *http.Server
	route     Router
	transport *http.Transport
	forward   *httputil.ReverseProxy
	served    chan struct{}

	mu      sync.Mutex
	closed  bool
	handles sync.WaitGroup
	// open maps every upstream connection (tunnel or forwarded request) to
	// what it was routed for, so Recheck can drop those a cut refuses.
	open map[*routed]struct{}
}

// routed is an open upstream connection, and for a tunnel the client's.
type routed struct {
	target string
	conns  []net.Conn
	once   sync.Once
}

func (r *routed) close() {
	r.once.Do(func() {
		for _, c := range r.conns {
			_ = c.Close()
		}
	})
}

// NewGateway listens on a free 127.0.0.1 port.
func NewGateway(route Router) (*Gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for a peer gateway: %w", err)
	}
	g := &Gateway{ln: ln, route: route, served: make(chan struct{}), open: map[*routed]struct{}{}}
	g.transport = &http.Transport{
		// Never the test process's own proxy settings.
		Proxy:       nil,
		DialContext: g.dialRouted,
		// Every forwarded request dials (and is routed) anew, and no
		// pooled connection outlives a cut.
		DisableKeepAlives: true,
	}
	g.forward = &httputil.ReverseProxy{
		// The request is already absolute-form: forward it as it is.
		Rewrite:   func(*httputil.ProxyRequest) {},
		Transport: g.transport,
		// An unreachable peer is a dropped connection, not a response.
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) },
	}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(g.served)
		_ = g.srv.Serve(ln)
	}()
	return g, nil
}

// Addr is the gateway's host:port: HTTP_PROXY/HTTPS_PROXY=http://<Addr>.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

// Recheck routes every open connection again and closes those the Router
// now refuses (the client sees its connection drop). Call it after every
// change of what the Router allows.
func (g *Gateway) Recheck() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for r := range g.open {
		if _, err := g.route(r.target); err != nil {
			r.close()
			delete(g.open, r)
		}
	}
}

// Close stops the gateway, drops every connection and waits for its
// handlers.
func (g *Gateway) Close() {
	g.mu.Lock()
	g.closed = true
	for r := range g.open {
		r.close()
	}
	g.open = map[*routed]struct{}{}
	g.mu.Unlock()
	_ = g.srv.Close()
	<-g.served
	g.transport.CloseIdleConnections()
	g.handles.Wait()
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	g.handles.Add(1)
	g.mu.Unlock()
	defer g.handles.Done()
	switch {
	case r.Method == http.MethodConnect:
		g.tunnel(w, r)
	case r.URL.IsAbs() && r.URL.Host != "":
		g.forward.ServeHTTP(w, r)
	default:
		http.Error(w, "a proxy: send CONNECT or an absolute-form request", http.StatusBadRequest)
	}
}

// tunnel serves CONNECT: route, dial, answer 200, then copy both ways
// until either side closes or Recheck drops the tunnel.
func (g *Gateway) tunnel(w http.ResponseWriter, r *http.Request) {
	target := r.Host
	addr, err := g.route(target)
	var up net.Conn
	if err == nil {
		up, err = net.DialTimeout("tcp", addr, dialTimeout)
	}
	if err != nil {
		refuse(w, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = up.Close()
		http.Error(w, "cannot hijack the connection", http.StatusInternalServerError)
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		_ = up.Close()
		return
	}
	t := &routed{target: target, conns: []net.Conn{client, up}}
	if err := g.register(t); err != nil {
		writeStatus(client, err)
		t.close()
		return
	}
	defer g.unregister(t)
	defer t.close()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		// buf may hold what the client sent right after its request.
		_, _ = io.Copy(up, buf.Reader)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, up)
		done <- struct{}{}
	}()
	<-done
	t.close()
	<-done
}

// dialRouted is the forwarding transport's dialer: addr is the URL's
// host:port.
func (g *Gateway) dialRouted(ctx context.Context, network, target string) (net.Conn, error) {
	addr, err := g.route(target)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	r := &routed{target: target, conns: []net.Conn{c}}
	if err := g.register(r); err != nil {
		r.close()
		return nil, err
	}
	return &routedConn{Conn: c, g: g, r: r}, nil
}

// register records an open connection, routing it again under the lock: a
// cut whose Recheck ran between the first routing and now is not missed.
func (g *Gateway) register(r *routed) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("the gateway is closed")
	}
	if _, err := g.route(r.target); err != nil {
		return err
	}
	g.open[r] = struct{}{}
	return nil
}

func (g *Gateway) unregister(r *routed) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.open, r)
}

// routedConn unregisters its connection when the transport closes it.
type routedConn struct {
	net.Conn
	g *Gateway
	r *routed
}

func (c *routedConn) Close() error {
	c.r.close()
	c.g.unregister(c.r)
	return nil
}

// refuse answers a CONNECT that cannot be served.
func refuse(w http.ResponseWriter, reason error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, reason.Error(), http.StatusBadGateway)
		return
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	writeStatus(c, reason)
	_ = c.Close()
}

// writeStatus writes a 502 whose status text is the reason: Go's transport
// reports a failed CONNECT by its status text.
func writeStatus(c net.Conn, reason error) {
	text := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, reason.Error())
	_, _ = fmt.Fprintf(c, "HTTP/1.1 502 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", text)
}
