package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeKind is which of a container's three probes.
type probeKind string

const (
	probeStartup   probeKind = "Startup"
	probeReadiness probeKind = "Readiness"
	probeLiveness  probeKind = "Liveness"
)

// The kubelet's defaults for unset probe fields (pod-lifecycle docs,
// "Configure Probes").
const (
	defaultPeriod           = 10 * time.Second
	defaultTimeout          = time.Second
	defaultFailureThreshold = 3
)

// probeSpec is one probe of one container with its defaults applied.
type probeSpec struct {
	kind         probeKind
	probe        *corev1.Probe
	period       time.Duration
	timeout      time.Duration
	initialDelay time.Duration
	success      int32
	failure      int32
}

// probesOf returns the probes of c the sim can run: httpGet, tcpSocket
// and exec (in the container, through its runner's ExecFunc). grpc probes
// are skipped (the sim has no gRPC health client), as if they passed.
func probesOf(c *corev1.Container) []probeSpec {
	var out []probeSpec
	for _, p := range []struct {
		kind  probeKind
		probe *corev1.Probe
	}{{probeStartup, c.StartupProbe}, {probeReadiness, c.ReadinessProbe}, {probeLiveness, c.LivenessProbe}} {
		if p.probe == nil || (p.probe.HTTPGet == nil && p.probe.TCPSocket == nil && p.probe.Exec == nil) {
			continue
		}
		s := probeSpec{kind: p.kind, probe: p.probe, period: defaultPeriod, timeout: defaultTimeout,
			success: 1, failure: defaultFailureThreshold,
			initialDelay: time.Duration(p.probe.InitialDelaySeconds) * time.Second}
		if p.probe.PeriodSeconds > 0 {
			s.period = time.Duration(p.probe.PeriodSeconds) * time.Second
		}
		if p.probe.TimeoutSeconds > 0 {
			s.timeout = time.Duration(p.probe.TimeoutSeconds) * time.Second
		}
		// Liveness and startup probes must use successThreshold 1 (API
		// validation); only readiness honours a larger one.
		if p.probe.SuccessThreshold > 0 && p.kind == probeReadiness {
			s.success = p.probe.SuccessThreshold
		}
		if p.probe.FailureThreshold > 0 {
			s.failure = p.probe.FailureThreshold
		}
		out = append(out, s)
	}
	return out
}

// result of a probe as the kubelet keeps it.
type result int8

const (
	resultUnknown result = iota
	resultSuccess
	resultFailure
)

// thresholds turns single probe outcomes into the reported result the
// kubelet's prober worker keeps: the result flips only after `success`
// consecutive successes or `failure` consecutive failures.
type thresholds struct {
	success, failure int32
	result           result // reported
	last             result // last outcome
	run              int32
}

// newThresholds starts from the kubelet's initial results: readiness fails
// until proven (a container is not Ready before its first success),
// liveness passes, startup is unknown.
func newThresholds(s probeSpec) *thresholds {
	t := &thresholds{success: s.success, failure: s.failure}
	switch s.kind {
	case probeReadiness:
		t.result = resultFailure
	case probeLiveness:
		t.result = resultSuccess
	}
	return t
}

// observe records one outcome and reports whether the result changed.
func (t *thresholds) observe(ok bool) bool {
	out := resultFailure
	if ok {
		out = resultSuccess
	}
	if out == t.last {
		t.run++
	} else {
		t.last, t.run = out, 1
	}
	if out == t.result {
		return false
	}
	if (ok && t.run >= t.success) || (!ok && t.run >= t.failure) {
		t.result = out
		return true
	}
	return false
}

// probeOnce runs the probe against the container's (mapped) port on
// 127.0.0.1 and returns nil on success. HTTP codes 200-399 pass, as for the
// kubelet; redirects are not followed (the kubelet follows only same-host
// ones, and counts the redirect itself as success otherwise).
func probeOnce(ctx context.Context, s probeSpec, c *corev1.Container, ports map[int32]int32) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	switch {
	case s.probe.HTTPGet != nil:
		g := s.probe.HTTPGet
		port, err := resolvePort(g.Port, c, ports)
		if err != nil {
			return err
		}
		scheme := "http"
		if g.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), g.Path)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("building the probe request: %w", err)
		}
		req.Header.Set("User-Agent", "kube-probe/sim")
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return fmt.Errorf("get %q: %w", url, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusBadRequest {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case s.probe.TCPSocket != nil:
		port, err := resolvePort(s.probe.TCPSocket.Port, c, ports)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		if err != nil {
			return fmt.Errorf("dial tcp: %w", err)
		}
		_ = conn.Close()
		return nil
	}
	return nil
}

// probeClient does not follow redirects and, like the kubelet, does not
// verify certificates of HTTPS probes.
var probeClient = &http.Client{
	Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the kubelet does not verify probe certificates either
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// resolvePort turns a probe's port (number or container port name) into
// the host port: through the runner's map, else the spec's number.
func resolvePort(p intstr.IntOrString, c *corev1.Container, ports map[int32]int32) (int32, error) {
	n := p.IntVal
	if p.Type == intstr.String {
		n = 0
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				n = cp.ContainerPort
			}
		}
		if n == 0 {
			return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
		}
	}
	if mapped, ok := ports[n]; ok {
		return mapped, nil
	}
	return n, nil
}
