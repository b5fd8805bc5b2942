package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// killWait bounds how long Kill waits for the process to be reaped.
const killWait = 10 * time.Second

// Process is one started process and its process group.
type Process struct {
	Name string
	cmd  *exec.Cmd
	// tag is the value of EnvTag in the process's environment, inherited
	// by everything it starts.
	tag  string
	done chan struct{}

	mu      sync.Mutex
	waitErr error
}

// Start starts cmd in a new process group. If logPath is not empty, stdout
// and stderr go there (unless the caller set them). The process is added to
// reg when reg is not nil. cmd.Env (os.Environ() when nil) gets EnvTag.
func Start(reg *Registry, name string, cmd *exec.Cmd, logPath string) (*Process, error) {
	var logFile *os.File
	if logPath != "" && cmd.Stdout == nil && cmd.Stderr == nil {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, fmt.Errorf("creating the log of %s: %w", name, err)
		}
		logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Own process group: Kill/Stop signal the whole group (a shell and its
	// children), and nothing else.
	cmd.SysProcAttr.Setpgid = true
	// If the Go process dies without running its cleanups (a test timeout
	// panics), the kernel still kills the child.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	tag := newTag()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, EnvTag+"="+tag)
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			_ = logFile.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, tag: tag, done: make(chan struct{})}
	if reg != nil {
		reg.add(p)
	}
	go func() {
		err := cmd.Wait()
		// A container runtime kills the whole cgroup when its first
		// process exits: nothing the process started may outlive it.
		signalTagged(tag, syscall.SIGKILL)
		if logFile != nil {
			_ = logFile.Close()
		}
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID of the process (and of its process group).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the error from Wait (nil for exit status 0), valid after Done.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Signal sends sig to the whole process group. SIGKILL, SIGSTOP and SIGCONT
// (what a dying, frozen or thawed machine does) also reach every process
// that inherited the tag but left the group, as a cgroup-wide kill or
// freeze would: a daemon started with setsid (IRIS's, the fake's) must die
// and freeze with its container. SIGTERM stays with the group, as the
// kubelet signals only the container's main process.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	switch sig {
	case syscall.SIGKILL:
		// Stop everything first so nothing forks between the scan and the
		// kill; a stopped process dies from SIGKILL too.
		_ = syscall.Kill(-p.PID(), syscall.SIGSTOP)
		signalTagged(p.tag, syscall.SIGSTOP)
		signalTagged(p.tag, syscall.SIGKILL)
	case syscall.SIGSTOP, syscall.SIGCONT:
		signalTagged(p.tag, sig)
	}
	if err := syscall.Kill(-p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %v to %s (pgid %d): %w", sig, p.Name, p.PID(), err)
	}
	return nil
}

// Kill SIGKILLs the process group and waits until the process is reaped.
// A stopped process dies from SIGKILL too, so Kill works on frozen nodes.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("%s (pid %d) still running %v after SIGKILL", p.Name, p.PID(), killWait)
	}
}

// Terminate sends SIGTERM (and SIGCONT, so a stopped process can act on it)
// and SIGKILLs the group if it has not exited within grace.
func (p *Process) Terminate(grace time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	_ = p.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// Registry remembers every process started with it.
type Registry struct {
	mu    sync.Mutex
	procs []*Process
}

func (r *Registry) add(p *Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.procs = append(r.procs, p)
}

// PIDs of every process ever started with the registry, alive or not.
func (r *Registry) PIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	pids := make([]int, 0, len(r.procs))
	for _, p := range r.procs {
		pids = append(pids, p.PID())
	}
	return pids
}

// KillAll SIGKILLs every process still running, newest first (so that
// nodes go before the control plane they talk to), and returns the joined
// errors.
func (r *Registry) KillAll() error {
	r.mu.Lock()
	procs := append([]*Process(nil), r.procs...)
	r.mu.Unlock()
	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Alive reports whether pid names a live process (not a zombie). It reads
// /proc, so it is Linux-only, like the sim.
func Alive(pid int) bool {
	st, ok := State(pid)
	return ok && st != 'Z' && st != 'X'
}

// State returns the process state letter from /proc (R, S, T for stopped,
// Z for zombie ...) and whether the process exists.
func State(pid int) (byte, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The state follows the command name in parentheses, which may contain
	// spaces: take the text after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, false
	}
	return s[i+2], true
}
