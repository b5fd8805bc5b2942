package iris

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Exit codes of `iris session` for ExternalFreeze and IsWDSuspendedExt in
// script mode (Data Integrity Guide; Backup.General class reference).
const (
	exitYes = 5 // frozen / suspended
	exitNo  = 3 // freeze failed / not suspended
)

// MaxFreezeTimeout is the cap IRIS puts on ExternalFreezeTimeOut, in seconds.
const MaxFreezeTimeout = 1200

// Errors of the freeze protocol; match them with errors.Is.
var (
	// ErrFreezeFailed is ExternalFreeze's exit 3: the write daemon was not
	// suspended and no snapshot may be taken. Thaw anyway, as the
	// documented scripts do.
	ErrFreezeFailed = errors.New("ExternalFreeze failed (exit 3): IRIS did not suspend its write daemon")
	// ErrStillSuspended is a write daemon that stays suspended after both
	// ExternalThaw and `iris stat IRIS -W`.
	ErrStillSuspended = errors.New("the write daemon is still suspended")
)

const (
	freezeCall      = "##Class(Backup.General).ExternalFreeze()"
	thawCall        = "##Class(Backup.General).ExternalThaw()"
	isSuspendedCall = "##Class(Backup.General).IsWDSuspendedExt()"
)

// Freeze suspends physical database writes (ExternalFreeze) so a volume
// snapshot is clean; the journal keeps being written. timeoutSeconds is
// ExternalFreezeTimeOut, after which IRIS pauses user updates until thawed:
// 0 keeps IRIS's default (600), and above MaxFreezeTimeout is refused
// rather than silently capped. Exit 5 is frozen, 3 is ErrFreezeFailed,
// anything else a *CommandError.
func (c *Client) Freeze(ctx context.Context, timeoutSeconds int) error {
	if timeoutSeconds < 0 || timeoutSeconds > MaxFreezeTimeout {
		return fmt.Errorf("freeze timeout %d s: IRIS accepts 0 (default 600) to %d", timeoutSeconds, MaxFreezeTimeout)
	}
	call := freezeCall
	if timeoutSeconds > 0 {
		// the seventh positional argument is ExternalFreezeTimeOut
		call = "##Class(Backup.General).ExternalFreeze(,,,,,," + strconv.Itoa(timeoutSeconds) + ")"
	}
	args := sessionArgs(call)
	out, code, err := c.run(ctx, args...)
	switch {
	case err != nil:
		return fmt.Errorf("freezing IRIS: %w", err)
	case code == exitYes:
		return nil
	case code == exitNo:
		if out = strings.TrimSpace(out); out != "" {
			return fmt.Errorf("%w: %s", ErrFreezeFailed, out)
		}
		return ErrFreezeFailed
	}
	return &CommandError{Args: args, Code: code, Output: out}
}

// Thaw resumes the write daemon (ExternalThaw) and checks that it did with
// IsWDSuspendedExt, since ExternalThaw's exit code is undocumented. If it did
// not, it falls back to ResumeWriteDaemon and checks again. Run it on a
// context of its own: a thaw must happen even when the backup was cancelled.
func (c *Client) Thaw(ctx context.Context) error {
	_, _, thawErr := c.run(ctx, sessionArgs(thawCall)...)
	suspended, err := c.WriteDaemonSuspended(ctx)
	if err == nil && !suspended {
		return nil
	}
	// After a freeze timeout new sessions may be refused, so a failed
	// check also goes to the fallback, which needs no session.
	if err := c.ResumeWriteDaemon(ctx); err != nil {
		return errors.Join(fmt.Errorf("thawing IRIS: ExternalThaw did not resume the write daemon: %w", err), thawErr)
	}
	suspended, err = c.WriteDaemonSuspended(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("thawing IRIS: checking the write daemon after iris stat -W: %w", err)
	case suspended:
		return fmt.Errorf("thawing IRIS: %w after ExternalThaw and iris stat -W", ErrStillSuspended)
	}
	return nil
}

// WriteDaemonSuspended asks IsWDSuspendedExt: exit 5 suspended, 3 not.
func (c *Client) WriteDaemonSuspended(ctx context.Context) (bool, error) {
	args := sessionArgs(isSuspendedCall)
	out, code, err := c.run(ctx, args...)
	switch {
	case err != nil:
		return false, fmt.Errorf("asking IRIS whether its write daemon is suspended: %w", err)
	case code == exitYes:
		return true, nil
	case code == exitNo:
		return false, nil
	}
	return false, &CommandError{Args: args, Code: code, Output: out}
}

// ResumeWriteDaemon runs `iris stat IRIS -W`, the documented emergency
// resume of a write daemon that ExternalThaw left suspended.
func (c *Client) ResumeWriteDaemon(ctx context.Context) error {
	_, err := c.expectZero(ctx, "stat", InstanceName, "-W")
	return err
}

// sessionArgs is `iris session IRIS -U%SYS "<call>"`; the call is one
// argument, so no shell quoting is involved.
func sessionArgs(call string) []string {
	return []string{"session", InstanceName, "-U%SYS", call}
}
