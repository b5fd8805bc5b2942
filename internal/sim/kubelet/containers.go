package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irisha/irisha/internal/sim/proc"
)

// podState is the simulated runtime's record of one pod.
type podState struct {
	uid        types.UID
	podIP      string
	startTime  time.Time
	vols       []podVolume
	inUse      bool // volumes reported in node.status.volumesInUse
	mounted    bool
	stopping   bool
	containers []*container
	// projected are the pod's projected volumes once written (its
	// ServiceAccount token among them).
	projected []*projectedVolume
	// written is the status this kubelet last wrote, as the API server
	// returned it, and writtenOver the resourceVersion of the cached pod it
	// was built on: while the cache still shows that version, it has not
	// seen the write yet, and the next one builds on written instead.
	written     *corev1.PodStatus
	writtenOver string
}

// statusBase is the pod status the next write builds on and compares with.
// The real kubelet's status manager keeps its own copy for the same reason:
// a cache that lags its own writes would make it write the same change again.
func (st *podState) statusBase(pod *corev1.Pod) corev1.PodStatus {
	if st.written != nil && pod.ResourceVersion == st.writtenOver {
		return *st.written
	}
	return pod.Status
}

// container is one simulated container.
type container struct {
	name, image  string
	id           string
	running      bool
	startedAt    time.Time
	restartCount int32
	crashes      int
	nextStart    time.Time
	waiting      string
	waitingMsg   string
	last         *corev1.ContainerStateTerminated
	terminated   *corev1.ContainerStateTerminated
	proc         *proc.Process
	// exec runs a command inside the running container (nil: none can
	// run), and execs are those still running, killed with the container.
	exec  ExecFunc
	execs []*proc.Process
	// ready and started are the readiness and startup probes' results
	// (true while running when there is no such probe).
	ready, started bool
	// readinessTrigger asks the readiness worker for an immediate probe.
	readinessTrigger chan struct{}
}

func newPodState(pod *corev1.Pod) *podState {
	st := &podState{uid: pod.UID}
	for _, c := range pod.Spec.Containers {
		ctr := &container{name: c.Name, image: c.Image, waiting: ReasonContainerCreating, readinessTrigger: make(chan struct{}, 1)}
		// A pod this node already ran (the node restarted): its containers
		// died with the node, so the next start is a restart.
		for _, s := range pod.Status.ContainerStatuses {
			if s.Name == c.Name && (s.State.Running != nil || s.RestartCount > 0) {
				ctr.restartCount = s.RestartCount
				ctr.last = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error", Message: "node restarted"}
			}
		}
		st.containers = append(st.containers, ctr)
	}
	return st
}

// containerSpec returns the pod's container named name, or nil.
func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

func (st *podState) find(name string) *container {
	for _, c := range st.containers {
		if c.name == name {
			return c
		}
	}
	return nil
}

// startContainer starts c; k.mu must not be held (the runner may block).
func (k *Kubelet) startContainer(ctx context.Context, key string, pod *corev1.Pod, st *podState, c *container) error {
	restarts := c.restartCount
	if c.last != nil {
		restarts++
	}
	var cp *ContainerProcess
	var termFile string
	if k.cfg.Runner != nil {
		vols := map[string]string{}
		for _, v := range st.vols {
			vols[v.Name] = k.cfg.VolumeDir(v.PVName)
		}
		var err error
		if termFile, err = k.terminationMessageFile(pod, c.name, restarts); err != nil {
			return err
		}
		env := ContainerEnv{
			NodeIP: k.cfg.NodeIP,
			Node:   k.cfg.NodeName, Pod: pod.DeepCopy(), Container: c.name, RestartCount: restarts,
			Kubeconfig: k.cfg.Kubeconfig, NodeKubeconfig: k.cfg.Kubeconfig, APIServer: k.cfg.APIServer, Volumes: vols,
			TerminationMessageFile: termFile,
		}
		if spec := containerSpec(pod, c.name); spec != nil && k.podDir(pod) != "" {
			k.mu.Lock()
			env.ServiceAccountDir = st.serviceAccountDir(spec)
			k.mu.Unlock()
			if env.Kubeconfig, err = k.containerKubeconfig(pod, c.name, env.ServiceAccountDir); err != nil {
				return err
			}
		}
		cp, err = k.cfg.Runner(ctx, env)
		if IsStartError(err) {
			k.startFailed(key, pod, st, c, restarts, err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("runner for %s/%s: %w", key, c.name, err)
		}
	}
	var p *proc.Process
	var probes []probeSpec
	spec := containerSpec(pod, c.name)
	if spec != nil {
		probes = probesOf(spec)
	}
	if cp != nil && cp.Cmd != nil {
		var err error
		p, err = k.cfg.StartProcess(pod.Name+"-"+c.name, cp.Cmd)
		if IsStartError(err) {
			k.startFailed(key, pod, st, c, restarts, err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("starting container %s of %s: %w", c.name, key, err)
		}
	}
	k.mu.Lock()
	c.running, c.startedAt, c.proc = true, time.Now(), p
	if p != nil {
		c.exec = cp.Exec
	}
	c.restartCount = restarts
	c.waiting, c.waitingMsg = "", ""
	c.id = fmt.Sprintf("sim://%s-%s-%d", shortUID(st.uid), c.name, restarts)
	c.ready, c.started = true, true
	for _, s := range probes {
		switch {
		case s.kind == probeReadiness && (p != nil || !k.cfg.VirtualContainersReady):
			// Not Ready before a readiness success, and a virtual
			// container has nothing that could answer one: it is never
			// Ready, as a real kubelet's probe of it would fail.
			c.ready = false
		case s.kind == probeStartup && p != nil:
			c.started = false
		}
	}
	k.mu.Unlock()
	if p != nil {
		k.startProbes(ctx, probed{key: key, pod: pod, spec: spec, ports: cp.Ports, exec: cp.Exec, c: c, p: p}, probes)
	}
	k.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.name)
	if p != nil {
		go func() {
			<-p.Done()
			k.exited(key, st, c, p, exitCode(p.Err()), readTerminationMessage(termFile))
		}()
	}
	return nil
}

// ExitCodeStartError is what the container runtime reports for a
// container whose process could not be started (containerd's exit code for
// a failed runc create).
const ExitCodeStartError = 128

// IsStartError reports whether err, from a ContainerRunner or from starting
// its process, means the container's command cannot run in its image: an
// *exec.Error (the runner's model of the image has no such program) or the
// host's failure to execute the program (no such file, not executable). It
// is a failed start that the kubelet retries with back-off, not a kubelet
// error; other errors (a missing log directory) are not.
func IsStartError(err error) bool {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return true
	}
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Op == "fork/exec"
}

// startFailed records a start that failed in the runtime, as containerd
// reports it: terminated with reason StartError and exit code 128 (never
// started, so startedAt is the Unix epoch), restarted with the crash
// back-off like any exit. The container never ran, so it is never Ready.
func (k *Kubelet) startFailed(key string, pod *corev1.Pod, st *podState, c *container, restarts int32, err error) {
	msg := err.Error()
	var ee *exec.Error
	var pe *fs.PathError
	switch {
	case errors.As(err, &ee):
		msg = ee.Error()
	case errors.As(err, &pe):
		msg = fmt.Sprintf("exec: %q: stat %s: %v", pe.Path, pe.Path, pe.Err)
	}
	msg = "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: " +
		"unable to start container process: error during container init: " + msg + ": unknown"
	now := time.Now()
	k.mu.Lock()
	c.restartCount = restarts
	c.id = fmt.Sprintf("sim://%s-%s-%d", shortUID(st.uid), c.name, restarts)
	term := &corev1.ContainerStateTerminated{
		ExitCode: ExitCodeStartError, Reason: "StartError", Message: msg,
		StartedAt: metav1.NewTime(time.Unix(0, 0)), FinishedAt: metav1.NewTime(now), ContainerID: c.id,
	}
	c.ready, c.started = false, false
	if st.stopping {
		c.terminated = term
	} else {
		c.last = term
		k.backOff(c, now, 0)
	}
	k.mu.Unlock()
	k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", msg)
	k.queue.Add(key)
}

// backOff schedules c's restart after a failure, now, of a run that lasted
// ran: at once or in CrashLoopBackOff, as the back-off says. k.mu is held.
func (k *Kubelet) backOff(c *container, now time.Time, ran time.Duration) {
	delay, crashes := k.cfg.Backoff.Delay(c.crashes+1, ran)
	c.crashes, c.nextStart = crashes, now.Add(delay)
	if delay > 0 {
		c.waiting = ReasonCrashLoopBackOff
		c.waitingMsg = fmt.Sprintf("back-off %s restarting failed container=%s", delay, c.name)
	} else {
		c.waiting, c.waitingMsg = ReasonContainerCreating, ""
	}
}

// exited records that c stopped with code and the termination message its
// process left; a crash unless the pod is stopping.
func (k *Kubelet) exited(key string, st *podState, c *container, p *proc.Process, code int32, message string) {
	k.mu.Lock()
	if !c.running || c.proc != p {
		k.mu.Unlock()
		return
	}
	now := time.Now()
	term := &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: "Error", StartedAt: metav1.NewTime(c.startedAt), FinishedAt: metav1.NewTime(now), ContainerID: c.id,
		Message: message,
	}
	if code == 0 {
		term.Reason = "Completed"
	}
	c.running, c.proc = false, nil
	c.killExecs()
	if st.stopping {
		c.terminated = term
	} else {
		c.last = term
		k.backOff(c, now, now.Sub(c.startedAt))
	}
	k.mu.Unlock()
	k.queue.Add(key)
}

// CrashContainer makes a running container of the pod exit as if it
// crashed (SIGKILL of its process, or exit code 137 for a virtual one).
func (k *Kubelet) CrashContainer(namespace, name, containerName string) error {
	key := namespace + "/" + name
	k.mu.Lock()
	st := k.state[key]
	var c *container
	if st != nil {
		c = st.find(containerName)
	}
	if c == nil || !c.running {
		k.mu.Unlock()
		return fmt.Errorf("container %s of pod %s is not running on node %s", containerName, key, k.cfg.NodeName)
	}
	p := c.proc
	k.mu.Unlock()
	if p != nil {
		// The exit watcher records the crash.
		return p.Signal(syscall.SIGKILL)
	}
	k.exited(key, st, c, nil, 137, "")
	return nil
}

// maxTerminationMessage is what the real kubelet keeps of a container's
// termination message (4096 bytes).
const maxTerminationMessage = 4096

// terminationMessageFile is the host file standing for one start of a
// container's terminationMessagePath, empty and fresh; "" without a
// StateDir.
func (k *Kubelet) terminationMessageFile(pod *corev1.Pod, container string, restarts int32) (string, error) {
	if k.cfg.StateDir == "" {
		return "", nil
	}
	dir := filepath.Join(k.cfg.StateDir, "termination-messages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	f := filepath.Join(dir, fmt.Sprintf("%s_%s_%s_%d", pod.Namespace, pod.Name, container, restarts))
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("removing the old %s: %w", f, err)
	}
	return f, nil
}

// readTerminationMessage reads what a process left in its termination
// message file, as much as the kubelet keeps; nothing when there is none.
// (The real kubelet's FallbackToLogsOnError is not simulated.)
func readTerminationMessage(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	b, _ := io.ReadAll(io.LimitReader(f, maxTerminationMessage))
	return string(b)
}

// stopContainers asks every running container to stop (SIGTERM, SIGKILL
// after grace); virtual containers stop at once. Called once per pod, with
// k.mu held; the exit watchers record the processes' ends.
func (k *Kubelet) stopContainers(st *podState, grace time.Duration) {
	now := metav1.Now()
	for _, c := range st.containers {
		switch {
		case c.running && c.proc != nil:
			p := c.proc
			go func() { _ = p.Terminate(grace) }()
		case c.running:
			c.running = false
			c.terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: metav1.NewTime(c.startedAt), FinishedAt: now, ContainerID: c.id}
		case c.terminated == nil:
			c.terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "ContainerStatusUnknown", FinishedAt: now}
		}
	}
}

// allStopped reports whether no container runs any more; k.mu held.
func (st *podState) allStopped() bool {
	for _, c := range st.containers {
		if c.running {
			return false
		}
	}
	return true
}

func exitCode(err error) int32 {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int32(ws.Signal())
		}
		return int32(ee.ExitCode())
	}
	return 1
}

func shortUID(uid types.UID) string {
	s := string(uid)
	if len(s) > 8 {
		return s[:8]
	}
	return s
}
