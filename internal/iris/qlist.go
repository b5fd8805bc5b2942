package iris

import (
	"errors"
	"fmt"
	"strings"
)

// Status is field 4 of `iris qlist`, classified.
type Status string

// Statuses; isclib and the System Administration Guide list the raw strings.
const (
	StatusRunning         Status = "running"
	StatusDown            Status = "down"
	StatusSignOnInhibited Status = "sign-on inhibited"
	// StatusTransition covers "starting or stopping" and "incomplete start
	// or stop, logins disabled".
	StatusTransition Status = "transition"
	StatusUnknown    Status = "unknown"
)

// Health is field 9, the System Monitor state. Never use it for liveness: it
// reads hung while the write daemon is frozen for a backup and alert for 30
// minutes after a crash recovery.
type Health string

// Health states.
const (
	HealthOK    Health = "ok"
	HealthWarn  Health = "warn"
	HealthAlert Health = "alert"
	HealthHung  Health = "hung"
	HealthNone  Health = ""
)

// Instance is one line of `iris qlist`.
type Instance struct {
	Name, InstallDir, Version string
	Status                    Status
	// StatusText is field 4 as printed, e.g. "running, since Mon Jul 23 ...".
	StatusText       string
	CPF              string
	SuperserverPort  string
	WebPort          string
	Health           Health
	Product          string
	DataDirectory    string
	MirrorMemberType string
}

// Running reports whether IRIS runs and accepts logins.
func (i Instance) Running() bool { return i.Status == StatusRunning }

// ErrIndeterminate is qlist run by another user than the instance owner.
var ErrIndeterminate = errors.New(`iris qlist reports "indeterminate": run it as the instance owner (irisowner)`)

// ParseQlist finds the instance name (case-insensitive) in qlist output,
// which has one line per instance; older versions print fewer fields.
func ParseQlist(out, name string) (Instance, error) {
	if strings.Contains(out, "indeterminate") {
		return Instance{}, ErrIndeterminate
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "^")
		if len(f) < 4 {
			return Instance{}, fmt.Errorf("iris qlist: line %q has %d fields, want at least 4", line, len(f))
		}
		if !strings.EqualFold(f[0], name) {
			continue
		}
		field := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		return Instance{
			Name: f[0], InstallDir: f[1], Version: f[2],
			Status: classify(f[3]), StatusText: f[3],
			CPF: field(4), SuperserverPort: field(5), WebPort: field(6),
			Health: Health(strings.ToLower(field(8))), Product: field(9),
			MirrorMemberType: field(10), DataDirectory: field(12),
		}, nil
	}
	return Instance{}, fmt.Errorf("iris qlist: no instance %s in %q", name, out)
}

func classify(s string) Status {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(s, "running"):
		return StatusRunning
	case strings.HasPrefix(s, "down"):
		return StatusDown
	case strings.HasPrefix(s, "sign-on inhibited"):
		return StatusSignOnInhibited
	case strings.HasPrefix(s, "starting"), strings.HasPrefix(s, "stopping"), strings.HasPrefix(s, "incomplete"):
		return StatusTransition
	}
	return StatusUnknown
}
