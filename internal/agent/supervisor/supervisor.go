package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper reaps the agent's children. A plain wait4(-1) loop would also steal
// the exit status of the `iris` commands the agent runs itself (exec.Cmd.Wait
// would then fail with ECHILD), so the reaper only collects zombies whose PID
// no exec.Cmd owns, found in /proc, and owned commands are started under the
// reaper's lock so a fast-exiting one is never mistaken for an orphan.
type Reaper struct {
	mu     sync.Mutex
	owned  map[int]bool
	main   *Process
	orphan int
	wake   chan os.Signal
}

// Process is the supervised child (iris-main).
type Process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	status syscall.WaitStatus
}

// NewReaper makes the calling process a subreaper (unless it is PID 1, which
// is one by nature) and starts reaping until ctx is done.
func NewReaper(ctx context.Context) (*Reaper, error) {
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("becoming a child subreaper: %w", err)
		}
	}
	r := &Reaper{owned: map[int]bool{}, wake: make(chan os.Signal, 16)}
	signal.Notify(r.wake, syscall.SIGCHLD)
	go r.loop(ctx)
	return r, nil
}

// Start starts the supervised child with the agent's standard streams, so
// IRIS's log reaches the kubelet.
func (r *Reaper) Start(name string, args ...string) (*Process, error) {
	if r.main != nil {
		return nil, errors.New("a supervised child is already running")
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	r.main = &Process{cmd: cmd, done: make(chan struct{})}
	return r.main, nil
}

// Run runs cmd to completion; the reaper leaves its zombie to cmd.Wait.
func (r *Reaper) Run(cmd *exec.Cmd) error {
	r.mu.Lock()
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return err
	}
	pid := cmd.Process.Pid
	r.owned[pid] = true
	r.mu.Unlock()
	err := cmd.Wait()
	r.mu.Lock()
	delete(r.owned, pid)
	r.mu.Unlock()
	return err
}

// Orphans counts the orphaned processes reaped so far.
func (r *Reaper) Orphans() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.orphan
}

func (r *Reaper) loop(ctx context.Context) {
	defer signal.Stop(r.wake)
	// A periodic pass covers coalesced signals.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.reapPass()
		select {
		case <-r.wake:
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func (r *Reaper) reapPass() {
	r.mu.Lock()
	defer r.mu.Unlock()
	zombies, err := zombieChildren(os.Getpid())
	if err != nil {
		return
	}
	for _, pid := range zombies {
		if r.owned[pid] {
			continue
		}
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err != nil || got != pid {
			continue
		}
		if r.main != nil && pid == r.main.cmd.Process.Pid {
			r.main.status = ws
			close(r.main.done)
			continue
		}
		r.orphan++
	}
}

// Pid is the child's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited and was reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the child's exit code once Done is closed: its own code, or
// 128+signal when a signal killed it, as a shell reports it.
func (p *Process) ExitCode() int {
	<-p.done
	if p.status.Signaled() {
		return 128 + int(p.status.Signal())
	}
	return p.status.ExitStatus()
}

// Signal sends sig to the child only: iris-main traps SIGTERM and SIGINT and
// runs a graceful `iris stop` itself.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling pid %d: %w", p.Pid(), err)
	}
	return nil
}
