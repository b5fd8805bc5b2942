package kubelet

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"time"

	"github.com/irisha/irisha/internal/sim/proc"
)

// execPipeGrace bounds how long an exec waits for its output pipes after
// the command exits: something it started in the background may hold them,
// and the caller must get its answer.
const execPipeGrace = time.Second

// ExecFunc is how a runner says to run a command inside its container: it
// returns the unstarted command standing for argv, with the container's
// environment, or an error the container runtime would give (an
// *exec.Error wrapping exec.ErrNotFound for a program the container does
// not have).
type ExecFunc func(argv []string) (*exec.Cmd, error)

// ExecProcess is a command running in a container through StartExec.
type ExecProcess struct {
	p              *proc.Process
	stdout, stderr bytes.Buffer
}

// Done is closed once the command has exited and its output is complete.
func (e *ExecProcess) Done() <-chan struct{} { return e.p.Done() }

// PID of the command.
func (e *ExecProcess) PID() int { return e.p.PID() }

// Kill SIGKILLs the command and waits for it.
func (e *ExecProcess) Kill() error { return e.p.Kill() }

// Result is the command's standard output and error and its exit code
// (128+signal when killed); valid after Done.
func (e *ExecProcess) Result() (stdout, stderr []byte, code int32) {
	err := e.p.Err()
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited 0; something it left behind held the pipes.
		err = nil
	}
	return e.stdout.Bytes(), e.stderr.Bytes(), exitCode(err)
}

// StartExec runs argv in a running container of a pod of this node, as the
// container runtime runs an exec: through the container's ExecFunc, as a
// process of the node (frozen and killed with it, listed by the cluster),
// with stdin as its standard input (nil: none). The command dies with its
// container, as everything in the container's cgroup does. The errors are
// the kubelet's: an unknown pod or a container that is not running (the
// kubelet looks among running containers only), or the runtime's for a
// command the container cannot run.
func (k *Kubelet) StartExec(namespace, pod, containerName string, stdin []byte, argv []string) (*ExecProcess, error) {
	key := namespace + "/" + pod
	k.mu.Lock()
	st := k.state[key]
	var c *container
	if st != nil {
		c = st.find(containerName)
	}
	var run ExecFunc
	if c != nil && c.running {
		run = c.exec
	}
	running := c != nil && c.running
	k.mu.Unlock()
	switch {
	case st == nil:
		return nil, fmt.Errorf("unable to upgrade connection: pod does not exist")
	case !running:
		return nil, fmt.Errorf("unable to upgrade connection: container not found (%q)", containerName)
	case len(argv) == 0:
		return nil, fmt.Errorf("you must specify at least one command for the container")
	case run == nil:
		// A virtual container has no file system to find a program in.
		return nil, runtimeExecError(&exec.Error{Name: argv[0], Err: exec.ErrNotFound})
	}
	cmd, err := run(argv)
	if err != nil {
		return nil, runtimeExecError(err)
	}
	e := &ExecProcess{}
	cmd.Stdout, cmd.Stderr = &e.stdout, &e.stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.WaitDelay = execPipeGrace
	if e.p, err = k.cfg.StartProcess(pod+"-"+containerName+"-exec", cmd); err != nil {
		return nil, fmt.Errorf("exec in container %s of %s: %w", containerName, key, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !c.running || c.exec == nil {
		// The container stopped while the command started.
		go func() { _ = e.p.Kill() }()
		return e, nil
	}
	c.execs = append(slices.DeleteFunc(c.execs, (*proc.Process).Exited), e.p)
	return e, nil
}

// runtimeExecError is err as the container runtime reports a command it
// could not start (containerd and runc's wording).
func runtimeExecError(err error) error {
	return fmt.Errorf("error executing command in container: failed to exec in container: "+
		"OCI runtime exec failed: exec failed: unable to start container process: %w: unknown", err)
}

// killExecs kills the commands exec'd into c, whose container has exited;
// k.mu held.
func (c *container) killExecs() {
	execs := c.execs
	c.execs, c.exec = nil, nil
	for _, p := range execs {
		go func() { _ = p.Kill() }()
	}
}
