package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/internal/sim/proc"
)

// probed is what the probe workers of one container run need.
type probed struct {
	key   string
	pod   *corev1.Pod
	spec  *corev1.Container
	ports map[int32]int32
	// exec runs an exec probe's command in the container (nil: it has
	// no program to run).
	exec ExecFunc
	c    *container
	p    *proc.Process
}

// startProbes runs one worker per probe of a container backed by process
// p, until p exits or the kubelet stops (a dead node probes nothing).
func (k *Kubelet) startProbes(ctx context.Context, w probed, specs []probeSpec) {
	if len(specs) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-w.p.Done():
		case <-ctx.Done():
		}
		cancel()
	}()
	for _, s := range specs {
		go k.probeWorker(ctx, w, s)
	}
}

// probeWorker is the kubelet's prober worker: probe at once, then every
// period (or when triggered), and act when the result flips.
func (k *Kubelet) probeWorker(ctx context.Context, w probed, s probeSpec) {
	th := newThresholds(s)
	ticker := time.NewTicker(s.period)
	defer ticker.Stop()
	var trigger <-chan struct{}
	if s.kind == probeReadiness {
		trigger = w.c.readinessTrigger
	}
	for {
		if k.gate.wait(ctx) != nil {
			return
		}
		if !k.probeOne(ctx, w, s, th) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-trigger:
		}
	}
}

// probeOne runs one probe and reports whether the worker goes on.
func (k *Kubelet) probeOne(ctx context.Context, w probed, s probeSpec, th *thresholds) bool {
	k.mu.Lock()
	current, started, since := w.c.proc == w.p, w.c.started, w.c.startedAt
	k.mu.Unlock()
	if !current {
		return false
	}
	// Readiness and liveness wait for the startup probe, and every probe
	// for initialDelaySeconds.
	if (s.kind != probeStartup && !started) || time.Since(since) < s.initialDelay {
		return true
	}
	var err error
	if s.probe.Exec != nil {
		err = k.execProbe(ctx, w, s)
	} else {
		err = probeOnce(ctx, s, w.spec, w.ports)
	}
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		k.recorder.Eventf(w.pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %v", s.kind, err)
	}
	if !th.observe(err == nil) {
		return true
	}
	ok := th.result == resultSuccess
	k.cfg.Log.V(1).Info("Probe result changed", "node", k.cfg.NodeName, "pod", w.key, "container", w.c.name, "probe", s.kind, "success", ok)
	switch {
	case s.kind == probeReadiness:
		k.setProbeResult(w, func(c *container) { c.ready = ok })
		return true
	case ok && s.kind == probeStartup:
		k.setProbeResult(w, func(c *container) { c.started = true })
		// As the kubelet does, probe readiness now rather than at its next
		// tick.
		select {
		case w.c.readinessTrigger <- struct{}{}:
		default:
		}
		return false // a startup probe stops once it succeeded
	case !ok:
		// Liveness or startup failed: restart the container. Its exit is
		// recorded as a crash, so the restart takes the usual back-off.
		k.recorder.Eventf(w.pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", w.c.name, s.kind)
		go func() { _ = w.p.Terminate(killGrace(w.pod, s.probe)) }()
		return false
	}
	return true
}

// setProbeResult applies a result to the container if p still stands for
// it, and has the pod's status rewritten.
func (k *Kubelet) setProbeResult(w probed, apply func(*container)) {
	k.mu.Lock()
	current := w.c.proc == w.p
	if current {
		apply(w.c)
	}
	k.mu.Unlock()
	if current {
		k.queue.Add(w.key)
	}
}

// killGrace is the grace of a probe-failure kill: the probe's own
// terminationGracePeriodSeconds, else the pod's, else 30 s.
func killGrace(pod *corev1.Pod, p *corev1.Probe) time.Duration {
	switch {
	case p.TerminationGracePeriodSeconds != nil:
		return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// execProbe runs an exec probe's command in the container, as the runtime
// runs an exec: exit code 0 passes; any other code, a command the
// container cannot run and a timeout fail (the kubelet counts a probe that
// errored as failed).
func (k *Kubelet) execProbe(ctx context.Context, w probed, s probeSpec) error {
	argv := s.probe.Exec.Command
	if len(argv) == 0 {
		return fmt.Errorf("exec probe has no command")
	}
	if w.exec == nil {
		return runtimeExecError(&exec.Error{Name: argv[0], Err: exec.ErrNotFound})
	}
	cmd, err := w.exec(argv)
	if err != nil {
		return runtimeExecError(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = execPipeGrace
	p, err := k.cfg.StartProcess(w.pod.Name+"-"+w.c.name+"-probe", cmd)
	if err != nil {
		return fmt.Errorf("starting the exec probe: %w", err)
	}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case <-p.Done():
	case <-timer.C:
		_ = p.Kill()
		return fmt.Errorf("command %q timed out", strings.Join(argv, " "))
	case <-ctx.Done():
		_ = p.Kill()
		return ctx.Err()
	}
	err = p.Err()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	if code := exitCode(err); code != 0 {
		return fmt.Errorf("command %q exited with %d: %s", strings.Join(argv, " "), code, strings.TrimSpace(out.String()))
	}
	return nil
}
