package lease_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
)

const (
	testNamespace = "ns"
	testLease     = "iris-fencing"
	testIdentity  = "iris-0_uid-0"
)

// leaseStore is the API server's side of one Lease: GET, POST and PUT with
// resourceVersion checks, nothing else.
type leaseStore struct {
	mu    sync.Mutex
	lease *coordinationv1.Lease
	rv    int
}

var leases = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

func (s *leaseStore) serve(r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := testLease
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/leases/"+name):
		if s.lease == nil {
			return notFound(name)
		}
		return http.StatusOK, s.lease
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/leases"):
		in, err := decodeLease(r)
		if err != nil {
			return http.StatusBadRequest, err.Error()
		}
		if s.lease != nil {
			st := apierrors.NewAlreadyExists(leases, name).ErrStatus
			return http.StatusConflict, &st
		}
		return http.StatusCreated, s.store(in)
	case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/leases/"+name):
		in, err := decodeLease(r)
		if err != nil {
			return http.StatusBadRequest, err.Error()
		}
		if s.lease == nil {
			return notFound(name)
		}
		if in.ResourceVersion != s.lease.ResourceVersion {
			st := apierrors.NewConflict(leases, name, nil).ErrStatus
			return http.StatusConflict, &st
		}
		return http.StatusOK, s.store(in)
	}
	return http.StatusNotFound, "no such path"
}

// write makes the Lease what another party (the operator) wrote.
func (s *leaseStore) write(mutate func(*coordinationv1.Lease)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.lease.DeepCopy()
	mutate(next)
	s.store(next)
}

func (s *leaseStore) store(in *coordinationv1.Lease) *coordinationv1.Lease {
	s.rv++
	in.ResourceVersion = strconv.Itoa(s.rv)
	in.TypeMeta = metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"}
	s.lease = in.DeepCopy()
	return in
}

func notFound(name string) (int, any) {
	st := apierrors.NewNotFound(leases, name).ErrStatus
	return http.StatusNotFound, &st
}

func decodeLease(r *http.Request) (*coordinationv1.Lease, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	in := &coordinationv1.Lease{}
	if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, in); err != nil {
		return nil, err
	}
	return in, nil
}

func encode(status int, obj any) []byte {
	if st, ok := obj.(*metav1.Status); ok {
		st.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}
		st.Code = int32(status)
	}
	b, _ := json.Marshal(obj)
	return b
}

// fakeAPI is an API server behind a network that can be cut, as a
// RoundTripper, so that it runs inside a synctest bubble. Its model of
// HTTP/2: every request goes over one connection until CloseAll. A request
// made during a hanging cut kills the connection it went over; every request
// on a dead connection hangs until its context ends, even after the network
// healed. A refusing cut fails requests at once (a reset, after which the
// transport redials by itself).
type fakeAPI struct {
	t     *testing.T
	store leaseStore

	mu             sync.Mutex
	cutFrom, cutTo time.Time
	refuse         bool
	latency        time.Duration
	conn           int
	dead           map[int]bool
	closeAlls      int
	requests       []*request
}

type request struct {
	method     string
	conn       int
	start, end time.Time
	// status is the HTTP status of the answer, 0 if there was none.
	status int
}

func (r request) String() string {
	end := "-"
	if !r.end.IsZero() {
		end = r.end.Format("15:04:05.000")
	}
	return fmt.Sprintf("%s on connection %d from %s to %s: %d", r.method, r.conn, r.start.Format("15:04:05.000"), end, r.status)
}

func newFakeAPI(t *testing.T) *fakeAPI {
	return &fakeAPI{t: t, dead: map[int]bool{}}
}

// client is a Lease client of api, as lease.NewClient would make it but
// over the fake network.
func (f *fakeAPI) client() coordinationclient.LeasesGetter {
	c, err := coordinationclient.NewForConfig(&rest.Config{Host: "https://api.invalid", Transport: f, QPS: -1})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// cut cuts the network from..to (to excluded).
func (f *fakeAPI) cut(from, to time.Time, refuse bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutFrom, f.cutTo, f.refuse = from, to, refuse
}

// slow makes every answer take latency.
func (f *fakeAPI) slow(latency time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = latency
}

// CloseAll is the Lease's Config.CloseConnections.
func (f *fakeAPI) CloseAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conn++
	f.closeAlls++
}

// maxRequests bounds a run: more means the agent spins.
const maxRequests = 5000

func (f *fakeAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	now := time.Now()
	f.mu.Lock()
	cut := !now.Before(f.cutFrom) && now.Before(f.cutTo)
	refused := cut && f.refuse
	if cut && !f.refuse {
		f.dead[f.conn] = true
	}
	req := &request{method: r.Method, conn: f.conn, start: now}
	spinning := len(f.requests) >= maxRequests
	if len(f.requests) == maxRequests {
		f.t.Errorf("%d requests to the API server by %s: the agent spins", maxRequests, now.Format("15:04:05.000"))
	}
	dead := f.dead[f.conn] || spinning
	// Hanging lets the bubble's time move on, so the run ends.
	refused = refused && !spinning
	latency := f.latency
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	end := func(status int) {
		f.mu.Lock()
		req.end, req.status = time.Now(), status
		f.mu.Unlock()
	}
	switch {
	case refused:
		end(0)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	case dead:
		<-r.Context().Done()
		end(0)
		return nil, r.Context().Err()
	}
	select {
	case <-time.After(latency):
	case <-r.Context().Done():
		end(0)
		return nil, r.Context().Err()
	}
	status, obj := f.store.serve(r)
	end(status)
	return &http.Response{
		StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(encode(status, obj))), Request: r,
	}, nil
}

// log returns the requests made so far.
func (f *fakeAPI) log() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]request, len(f.requests))
	for i, r := range f.requests {
		out[i] = *r
	}
	return out
}

// renewals are the send times of the renewals the API server stored.
func (f *fakeAPI) renewals() []time.Time {
	var out []time.Time
	for _, r := range f.log() {
		if r.method == http.MethodPut && r.status == http.StatusOK {
			out = append(out, r.start)
		}
	}
	return out
}
