package iris

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// InstanceName is the instance of every IRIS container.
const InstanceName = "IRIS"

// Exit codes of `iris session` for ExternalFreeze and IsWDSuspendedExt.
const (
	exitYes = 5 // frozen / suspended
	exitNo  = 3 // freeze failed / not suspended
)

// Runner runs a command and returns its output and exit code; err is only
// for a command that could not run or was cancelled.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout string, exitCode int, err error)
}

// ExecRunner runs commands with os/exec; Start, when set, replaces
// cmd.Run so the agent's reaper can keep the exit status for the caller.
type ExecRunner struct {
	Start func(*exec.Cmd) error
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	run := cmd.Run
	if r.Start != nil {
		run = func() error { return r.Start(cmd) }
	}
	err := run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return out.String(), -1, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), ctx.Err())
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode(), nil
	case err != nil:
		return out.String(), -1, fmt.Errorf("running %s: %w", name, err)
	}
	return out.String(), 0, nil
}

// Errors of the freeze protocol.
var (
	ErrFreezeFailed = errors.New("ExternalFreeze failed (exit 3): IRIS did not suspend its write daemon")
)

// Client drives the local IRIS instance through its `iris` command.
type Client struct {
	Runner Runner
	// Iris is the iris command; "iris" on PATH by default.
	Iris string
}

func (c *Client) iris() string {
	if c.Iris == "" {
		return "iris"
	}
	return c.Iris
}

func (c *Client) run(ctx context.Context, args ...string) (string, int, error) {
	return c.Runner.Run(ctx, c.iris(), args...)
}

// Status runs `iris qlist IRIS`.
func (c *Client) Status(ctx context.Context) (Instance, error) {
	out, code, err := c.run(ctx, "qlist", InstanceName)
	if err != nil {
		return Instance{}, err
	}
	if code != 0 {
		return Instance{}, fmt.Errorf("iris qlist exited %d: %s", code, strings.TrimSpace(out))
	}
	return ParseQlist(out, InstanceName)
}

// Stop runs a graceful `iris stop IRIS quietly`.
func (c *Client) Stop(ctx context.Context) error {
	return c.expectZero(ctx, "stop", InstanceName, "quietly")
}

// Force runs `iris force IRIS`, the last resort before SIGKILL.
func (c *Client) Force(ctx context.Context) error {
	return c.expectZero(ctx, "force", InstanceName)
}

// Merge applies a merge file to the running instance: `iris merge IRIS <file>`.
func (c *Client) Merge(ctx context.Context, file string) error {
	return c.expectZero(ctx, "merge", InstanceName, file)
}

// Freeze suspends physical database writes (ExternalFreeze). The journal
// keeps being written. timeoutSeconds is ExternalFreezeTimeOut, after which
// IRIS pauses user updates until thawed; IRIS caps it at 1200.
func (c *Client) Freeze(ctx context.Context, timeoutSeconds int) error {
	call := "##Class(Backup.General).ExternalFreeze()"
	if timeoutSeconds > 0 {
		call = "##Class(Backup.General).ExternalFreeze(,,,,,," + strconv.Itoa(timeoutSeconds) + ")"
	}
	out, code, err := c.session(ctx, call)
	switch {
	case err != nil:
		return err
	case code == exitYes:
		return nil
	case code == exitNo:
		return fmt.Errorf("%w: %s", ErrFreezeFailed, strings.TrimSpace(out))
	}
	return fmt.Errorf("ExternalFreeze exited %d, neither 5 (frozen) nor 3 (failed): %s", code, strings.TrimSpace(out))
}

// Thaw resumes the write daemon (ExternalThaw) and checks it did; if not, it
// falls back to `iris stat IRIS -W`, the documented emergency resume.
func (c *Client) Thaw(ctx context.Context) error {
	_, _, thawErr := c.session(ctx, "##Class(Backup.General).ExternalThaw()")
	suspended, err := c.WriteDaemonSuspended(ctx)
	if err == nil && !suspended {
		return nil
	}
	if _, code, err := c.run(ctx, "stat", InstanceName, "-W"); err != nil || code != 0 {
		return errors.Join(fmt.Errorf("the write daemon is still suspended after ExternalThaw and iris stat -W (exit %d)", code), thawErr, err)
	}
	if suspended, err := c.WriteDaemonSuspended(ctx); err != nil || suspended {
		return errors.Join(errors.New("the write daemon is still suspended after iris stat -W"), err)
	}
	return nil
}

// WriteDaemonSuspended asks IsWDSuspendedExt: exit 5 suspended, 3 not.
func (c *Client) WriteDaemonSuspended(ctx context.Context) (bool, error) {
	out, code, err := c.session(ctx, "##Class(Backup.General).IsWDSuspendedExt()")
	switch {
	case err != nil:
		return false, err
	case code == exitYes:
		return true, nil
	case code == exitNo:
		return false, nil
	}
	return false, fmt.Errorf("IsWDSuspendedExt exited %d: %s", code, strings.TrimSpace(out))
}

func (c *Client) session(ctx context.Context, call string) (string, int, error) {
	return c.run(ctx, "session", InstanceName, "-U%SYS", call)
}

func (c *Client) expectZero(ctx context.Context, args ...string) error {
	out, code, err := c.run(ctx, args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("iris %s exited %d: %s", strings.Join(args, " "), code, strings.TrimSpace(out))
	}
	return nil
}
