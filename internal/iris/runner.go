package iris

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner runs a command and returns its output and exit code. err is only
// for a command that could not be started or whose context ended; any exit,
// zero or not, is a result.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout string, exitCode int, err error)
}

// DefaultPipeGrace is how long ExecRunner waits for the output pipes after
// the command exits or its context ends: `iris start` leaves daemons behind
// that may hold them open, and a hung command must not outlive its context.
const DefaultPipeGrace = 2 * time.Second

// ExecRunner runs commands with os/exec.
//
// The output returned is standard output; when the exit code is not zero,
// standard error follows it, so that failures explain themselves while a
// successful command's output stays parseable. A command killed by a
// signal other than through ctx reports 128+signal, as shells do.
type ExecRunner struct {
	// Env, when not nil, is the command's whole environment.
	Env []string
	// Start, when set, replaces cmd.Run (start and wait): the agent's
	// reaper uses it to keep the exit status for the caller.
	Start func(*exec.Cmd) error
	// PipeGrace replaces DefaultPipeGrace when positive.
	PipeGrace time.Duration
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.Env
	cmd.WaitDelay = DefaultPipeGrace
	if r.PipeGrace > 0 {
		cmd.WaitDelay = r.PipeGrace
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	run := cmd.Run
	if r.Start != nil {
		run = func() error { return r.Start(cmd) }
	}
	err := run()
	line := strings.TrimSpace(name + " " + strings.Join(args, " "))
	if ctx.Err() != nil {
		return stdout.String(), -1, fmt.Errorf("%s: %w", line, ctx.Err())
	}
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return stdout.String(), -1, fmt.Errorf("running %s: %w", line, err)
		}
	}
	code := exitCode(cmd)
	out := stdout.String()
	if code != 0 && stderr.Len() > 0 {
		out += stderr.String()
	}
	return out, code, nil
}

func exitCode(cmd *exec.Cmd) int {
	ps := cmd.ProcessState
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// CommandError is an iris command that ran and exited with an unexpected code.
type CommandError struct {
	Args   []string // the iris command line after "iris"
	Code   int
	Output string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("iris %s exited %d", strings.Join(e.Args, " "), e.Code)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += ": " + out
	}
	return msg
}
