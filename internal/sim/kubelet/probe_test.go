package kubelet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/irisha/irisha/internal/sim/proc"
)

func TestThresholds(t *testing.T) {
	for _, c := range []struct {
		name     string
		kind     probeKind
		success  int32
		failure  int32
		outcomes []bool
		// want is the reported result after each outcome.
		want []result
	}{
		{"readiness starts failing, one success makes it ready", probeReadiness, 1, 3,
			[]bool{false, true, false, false, false, true},
			[]result{resultFailure, resultSuccess, resultSuccess, resultSuccess, resultFailure, resultSuccess}},
		{"readiness successThreshold 2", probeReadiness, 2, 1,
			[]bool{true, false, true, true, false},
			[]result{resultFailure, resultFailure, resultFailure, resultSuccess, resultFailure}},
		{"liveness starts passing, fails after failureThreshold in a row", probeLiveness, 1, 2,
			[]bool{false, true, false, false},
			[]result{resultSuccess, resultSuccess, resultSuccess, resultFailure}},
		{"startup unknown until it succeeds", probeStartup, 1, 3,
			[]bool{false, false, true},
			[]result{resultUnknown, resultUnknown, resultSuccess}},
		{"startup fails after failureThreshold", probeStartup, 1, 2,
			[]bool{false, false},
			[]result{resultUnknown, resultFailure}},
	} {
		t.Run(c.name, func(t *testing.T) {
			th := newThresholds(probeSpec{kind: c.kind, success: c.success, failure: c.failure})
			for i, ok := range c.outcomes {
				before := th.result
				changed := th.observe(ok)
				if th.result != c.want[i] || changed != (before != th.result) {
					t.Fatalf("after outcome %d (%v): result %v changed %v, want %v", i, ok, th.result, changed, c.want[i])
				}
			}
		})
	}
}

func TestProbesOfDefaults(t *testing.T) {
	c := &corev1.Container{
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz"}},
			PeriodSeconds: 5, FailureThreshold: 2, SuccessThreshold: 2},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}},
		StartupProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}},
	}
	specs := probesOf(c)
	if len(specs) != 3 {
		t.Fatalf("probes %+v, want startup, readiness and liveness", specs)
	}
	s, r, l := specs[0], specs[1], specs[2]
	if s.kind != probeStartup || s.probe.Exec == nil {
		t.Errorf("startup %+v", s)
	}
	if r.kind != probeReadiness || r.period != 5*time.Second || r.failure != 2 || r.success != 2 || r.timeout != time.Second {
		t.Errorf("readiness %+v", r)
	}
	if l.kind != probeLiveness || l.period != 10*time.Second || l.failure != 3 || l.success != 1 {
		t.Errorf("liveness %+v", l)
	}
}

// statusServer answers with the code in *code.
func statusServer(t *testing.T, code *atomic.Int32) (int32, func()) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(int(code.Load()))
	}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	return int32(n), srv.Close
}

func TestProbeOnceMapsNamedPorts(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusOK)
	port, stop := statusServer(t, &code)
	defer stop()
	c := &corev1.Container{Name: "iris", Ports: []corev1.ContainerPort{{Name: "agent", ContainerPort: 8085}}}
	s := probeSpec{kind: probeReadiness, timeout: time.Second, probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("agent")}}}}
	ctx := context.Background()
	// The container says 8085; the runner says where it really listens.
	if err := probeOnce(ctx, s, c, map[int32]int32{8085: port}); err != nil {
		t.Fatalf("mapped port: %v", err)
	}
	code.Store(http.StatusServiceUnavailable)
	if err := probeOnce(ctx, s, c, map[int32]int32{8085: port}); err == nil {
		t.Fatal("503 must fail the probe")
	}
	code.Store(http.StatusFound)
	if err := probeOnce(ctx, s, c, map[int32]int32{8085: port}); err != nil {
		t.Fatalf("3xx passes, as for the kubelet: %v", err)
	}
	s.probe.HTTPGet.Port = intstr.FromString("web")
	if err := probeOnce(ctx, s, c, nil); err == nil {
		t.Fatal("an unknown port name must fail the probe")
	}
	s.probe.HTTPGet, s.probe.TCPSocket = nil, &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}
	if err := probeOnce(ctx, s, c, nil); err != nil {
		t.Fatalf("tcp probe: %v", err)
	}
}

// TestProbeWorkers runs readiness and liveness workers against a live
// process: Ready follows the endpoint, a failing liveness probe kills it.
func TestProbeWorkers(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusServiceUnavailable)
	port, stop := statusServer(t, &code)
	defer stop()
	p, err := proc.Start(nil, "sleep", exec.Command("sleep", "60"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Kill() }()
	k := &Kubelet{
		cfg:      Config{NodeName: "node-1", Log: logr.Discard()},
		recorder: record.NewFakeRecorder(100),
		queue:    workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	defer k.queue.ShutDown()
	get := &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(port)}
	spec := &corev1.Container{Name: "iris",
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: get}, PeriodSeconds: 1, FailureThreshold: 1},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/livez", Port: intstr.FromInt32(port)}},
			PeriodSeconds: 1, FailureThreshold: 2, TerminationGracePeriodSeconds: ptr(int64(1))},
	}
	c := &container{name: "iris", running: true, proc: p, started: true, startedAt: time.Now(), readinessTrigger: make(chan struct{}, 1)}
	pod := &corev1.Pod{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	k.startProbes(ctx, probed{key: "ns/pod", pod: pod, spec: spec, c: c, p: p}, probesOf(spec)[:1])
	ready := func() bool { k.mu.Lock(); defer k.mu.Unlock(); return c.ready }
	code.Store(http.StatusOK)
	waitFor(ctx, t, "ready", ready)
	code.Store(http.StatusServiceUnavailable)
	waitFor(ctx, t, "not ready", func() bool { return !ready() })

	// /livez answers 404: two failures in a row and the process is killed.
	k.startProbes(ctx, probed{key: "ns/pod", pod: pod, spec: spec, c: c, p: p}, probesOf(spec)[1:])
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("a failing liveness probe did not kill the container")
	}
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
