package netproxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// peerRouter routes 10.1.0.2:P to 127.0.0.1:P while allowed, and nothing
// else.
type peerRouter struct{ cut atomic.Bool }

func (r *peerRouter) route(target string) (string, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return "", err
	}
	if host != "10.1.0.2" {
		return "", fmt.Errorf("no route to host %s", host)
	}
	if r.cut.Load() {
		return "", errors.New("node-2 is partitioned from its peers")
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

func newGateway(t *testing.T) (*Gateway, *peerRouter) {
	t.Helper()
	r := &peerRouter{}
	g, err := NewGateway(r.route)
	if err != nil {
		t.Fatal(err)
	}
	return g, r
}

// peerURL is u (a 127.0.0.1 test server) as seen at node-2's address.
func peerURL(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pu.Host = net.JoinHostPort("10.1.0.2", pu.Port())
	return pu.String()
}

func proxiedClient(g *Gateway) *http.Client {
	proxy := &url.URL{Scheme: "http", Host: g.Addr()}
	return &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxy),
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server
	}}
}

func get(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestGatewayRoutesAndRefuses(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "witness") })
	plain := httptest.NewServer(hello)
	defer plain.Close()
	secure := httptest.NewTLSServer(hello)
	defer secure.Close()
	base := runtime.NumGoroutine()
	g, r := newGateway(t)
	c := proxiedClient(g)
	// http:// goes as an absolute-form request, https:// through CONNECT.
	for _, u := range []string{peerURL(t, plain.URL), peerURL(t, secure.URL)} {
		if body, err := get(c, u); err != nil || body != "witness" {
			t.Fatalf("GET %s through the gateway: %q, %v", u, body, err)
		}
	}
	if _, err := get(c, "http://10.1.0.3:1/"); err == nil {
		t.Fatal("reached a host the router does not know")
	}
	r.cut.Store(true)
	g.Recheck() // the client keeps its tunnel to the secure server
	if _, err := get(c, peerURL(t, plain.URL)); err == nil {
		t.Fatal("plain request through a cut gateway succeeded")
	}
	_, err := get(c, peerURL(t, secure.URL))
	if err == nil || !strings.Contains(err.Error(), "partitioned from its peers") {
		t.Fatalf("CONNECT through a cut gateway: %v, want the router's reason", err)
	}
	r.cut.Store(false)
	if body, err := get(c, peerURL(t, secure.URL)); err != nil || body != "witness" {
		t.Fatalf("after healing: %q, %v", body, err)
	}
	c.CloseIdleConnections()
	g.Close()
	plain.CloseClientConnections()
	secure.CloseClientConnections()
	settled(t, base)
}

// connect opens a raw CONNECT tunnel through the gateway.
func connect(t *testing.T, g *Gateway, target string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %s", target, resp.Status)
	}
	return c, br
}

func TestGatewayDropsTunnelsOnCut(t *testing.T) {
	echo := echoServer(t)
	_, port, _ := net.SplitHostPort(echo)
	base := runtime.NumGoroutine()
	g, r := newGateway(t)
	c, br := connect(t, g, net.JoinHostPort("10.1.0.2", port))
	defer c.Close()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("through the tunnel: %q, %v", line, err)
	}
	r.cut.Store(true)
	g.Recheck()
	if _, err := br.ReadString('\n'); err == nil {
		t.Fatal("the tunnel survived the cut")
	}
	_ = c.Close()

	// A plain request in flight is dropped too.
	started := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		close(started)
		<-req.Context().Done() // the gateway hung up
	}))
	defer slow.Close()
	r.cut.Store(false)
	hc := proxiedClient(g)
	errc := make(chan error, 1)
	go func() {
		_, err := get(hc, peerURL(t, slow.URL))
		errc <- err
	}()
	<-started
	r.cut.Store(true)
	g.Recheck()
	if err := <-errc; err == nil {
		t.Fatal("a request in flight survived the cut")
	}
	hc.CloseIdleConnections()
	g.Close()
	slow.CloseClientConnections()
	slow.Close()
	settled(t, base)
}
