package lease_test

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/client-go/rest"

	"github.com/irisha/irisha/internal/agent/lease"
)

type connKey struct{}

// deadConnServer is an API server over HTTP/2 whose connections can die
// without a reset: once cut, every request on a connection opened before
// gets no answer, while new connections work. A retry that does not dial
// afresh waits on the dead one.
type deadConnServer struct {
	*httptest.Server
	store leaseStore

	mu        sync.Mutex
	conns     []net.Conn
	dead      map[net.Conn]bool
	protos    map[int]bool
	abandoned int
	renewed   chan net.Conn
}

func newDeadConnServer(t *testing.T) *deadConnServer {
	s := &deadConnServer{dead: map[net.Conn]bool{}, protos: map[int]bool{}, renewed: make(chan net.Conn, 100)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.EnableHTTP2 = true
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		return context.WithValue(ctx, connKey{}, c)
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *deadConnServer) cut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		s.dead[c] = true
	}
}

func (s *deadConnServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(connKey{}).(net.Conn)
	s.mu.Lock()
	dead := s.dead[c]
	s.protos[r.ProtoMajor] = true
	s.mu.Unlock()
	if dead {
		<-r.Context().Done()
		s.mu.Lock()
		s.abandoned++
		s.mu.Unlock()
		return
	}
	status, obj := s.store.serve(r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(encode(status, obj))
	if r.Method == http.MethodPut && status == http.StatusOK {
		s.renewed <- c
	}
}

func (s *deadConnServer) restConfig() *rest.Config {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	return &rest.Config{Host: s.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

// TestRetryDialsAfresh: over real HTTP/2, a renewal that hung on a dead
// connection is retried on a new one (NewClient's closer), not queued behind
// it on the same one.
func TestRetryDialsAfresh(t *testing.T) {
	srv := newDeadConnServer(t)
	leases, closeAll, err := lease.NewClient(srv.restConfig())
	if err != nil {
		t.Fatal(err)
	}
	timing := agentTestTiming // 667 ms per attempt, fenced 2 s after the last renewal
	l, err := lease.New(lease.Config{Namespace: testNamespace, Name: testLease, Identity: testIdentity, Timing: timing, CloseConnections: closeAll},
		leases, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	srv.cut()
	holdCtx, stop := context.WithCancel(ctx)
	held := make(chan error, 1)
	go func() { held <- l.Hold(holdCtx) }()

	select {
	case c := <-srv.renewed:
		srv.mu.Lock()
		dead, abandoned, h2 := srv.dead[c], srv.abandoned, srv.protos[2] && !srv.protos[1]
		srv.mu.Unlock()
		if dead {
			t.Errorf("renewed over a connection that died")
		}
		if abandoned == 0 {
			t.Errorf("no request on the dead connection was abandoned")
		}
		if !h2 {
			t.Errorf("the client did not speak HTTP/2 only; the test shows nothing about multiplexed connections")
		}
	case err := <-held:
		t.Fatalf("Hold returned before any renewal succeeded: %v", err)
	case <-ctx.Done():
		t.Fatal("no renewal succeeded")
	}
	stop()
	if err := <-held; err != nil {
		t.Errorf("Hold after the stop: %v", err)
	}
}

func TestNewClientNeedsItsOwnDialer(t *testing.T) {
	_, _, err := lease.NewClient(&rest.Config{Host: "https://api.invalid", Transport: http.DefaultTransport})
	if err == nil {
		t.Errorf("NewClient with a Transport = %v, want an error", err)
	}
}
