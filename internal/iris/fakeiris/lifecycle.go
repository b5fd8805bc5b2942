package fakeiris

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// daemonArg makes the binary the instance process, whatever its name.
const daemonArg = "__fakeiris_instance__"

// poll is how often the fake looks at a process or its state file.
const poll = 10 * time.Millisecond

// spawn starts the instance process in a session of its own, as IRIS's
// daemons are: a signal to the caller's process group does not reach it,
// and `iris force` kills its whole group. out receives its log (nil: none,
// so `iris start` does not leave it holding the caller's pipe).
func spawn(out io.Writer) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the fake's binary: %w", err)
	}
	cmd := exec.Command(self, daemonArg)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the instance: %w", err)
	}
	return cmd, nil
}

// waitRunning waits until the instance process pid enables logons, or dies.
func waitRunning(s store, pid int) error {
	for {
		st, err := s.load()
		if err != nil {
			return err
		}
		if st.Pid == pid && st.Phase == phaseRunning {
			return nil
		}
		if !alive(pid) {
			return errors.New("the instance exited during startup; see mgr/messages.log")
		}
		time.Sleep(poll)
	}
}

// stop is `iris stop`: ask the instance to shut down and wait up to the
// shutdown timeout, after which IRIS forces the shutdown itself (and the
// next start runs crash recovery). It reports whether it had to force.
func stop(cfg config) (forced bool, err error) {
	s := store{cfg}
	st, err := s.load()
	if err != nil || observed(st, alive) == phaseDown {
		return false, err
	}
	if err := syscall.Kill(st.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return false, fmt.Errorf("signalling the instance: %w", err)
	}
	deadline := time.Now().Add(shutdownTimeout(cfg))
	for time.Now().Before(deadline) {
		if !alive(st.Pid) {
			return false, nil
		}
		time.Sleep(poll)
	}
	return true, force(cfg)
}

// force is `iris force`: kill the instance's process group at once.
func force(cfg config) error {
	s := store{cfg}
	st, err := s.load()
	if err != nil {
		return err
	}
	if !alive(st.Pid) {
		return nil // nothing to kill; a clean stop stays clean
	}
	if err := syscall.Kill(-st.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing the instance: %w", err)
	}
	for alive(st.Pid) {
		time.Sleep(poll)
	}
	_, _, err = s.update(func(n *state) {
		if n.Pid == st.Pid {
			n.Up, n.Phase, n.Since, n.CleanStop = false, phaseDown, time.Now(), false
		}
	})
	return err
}
