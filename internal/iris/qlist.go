package iris

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Status is field 4 of `iris qlist`, classified.
type Status string

// Statuses. The raw strings come from the System Administration Guide
// ("running", "down", "starting or stopping", "incomplete start or stop,
// logins disabled") and from isclib's fixtures ("sign-on inhibited",
// "sign-on inhibited:primary transition", "running on node ? (cache.ids
// missing)").
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
// reads hung while the write daemon is frozen for a backup, and alert for 30
// minutes after a crash recovery.
type Health string

// Health states; HealthNone is a blank or unrecognised field.
const (
	HealthOK    Health = "ok"
	HealthWarn  Health = "warn"
	HealthAlert Health = "alert"
	HealthHung  Health = "hung"
	HealthNone  Health = ""
)

// Instance is one line of `iris qlist`. Fields missing from older versions'
// shorter lines are zero.
type Instance struct {
	Name       string // field 1
	InstallDir string // field 2
	Version    string // field 3
	Status     Status // field 4, classified
	// StatusText is field 4 as printed, e.g. "running, since Mon Jul 23 14:42:09 2018".
	StatusText string
	// Since is the time text of field 4 after "since" or "last used", as printed.
	Since            string
	CPF              string // field 5, relative to InstallDir
	SuperserverPort  int    // field 6
	WebPort          int    // field 7
	JDBCPort         int    // field 8
	Health           Health // field 9
	Product          string // field 10
	MirrorMemberType string // field 11
	MirrorStatus     string // field 12
	DataDirectory    string // field 13, the durable %SYS directory
	SuperserverPorts string // field 14, as printed
}

// Running reports whether IRIS runs and accepts logins. A frozen write
// daemon still counts as running.
func (i Instance) Running() bool { return i.Status == StatusRunning }

// ErrIndeterminate is qlist run by another user than the instance owner:
// as root it reports "indeterminate" instead of a status.
var ErrIndeterminate = errors.New(`iris qlist reports "indeterminate": run it as the instance owner (irisowner)`)

// ParseQlist returns the instance named IRIS (the name of every IRIS
// container) from `iris qlist` output.
func ParseQlist(out string) (Instance, error) {
	return ParseQlistInstance(out, InstanceName)
}

// ParseQlistInstance returns the named instance (compared case-insensitively,
// as the iris command does) from qlist output, which has one "^"-separated
// line per instance. Lines without "^" (warnings) are skipped.
func ParseQlistInstance(out, name string) (Instance, error) {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if !strings.Contains(line, "^") {
			continue
		}
		f := strings.Split(line, "^")
		if !strings.EqualFold(strings.TrimSpace(f[0]), name) {
			continue
		}
		if len(f) < 4 {
			return Instance{}, fmt.Errorf("iris qlist: line %q has %d fields, want at least 4", line, len(f))
		}
		if strings.Contains(strings.ToLower(f[3]), "indeterminate") {
			return Instance{}, ErrIndeterminate
		}
		return instanceFromFields(f), nil
	}
	if strings.Contains(strings.ToLower(out), "indeterminate") {
		return Instance{}, ErrIndeterminate
	}
	return Instance{}, fmt.Errorf("iris qlist: no instance %s in %q", name, out)
}

func instanceFromFields(f []string) Instance {
	field := func(i int) string {
		if i < len(f) {
			return strings.TrimSpace(f[i])
		}
		return ""
	}
	status := strings.TrimSpace(f[3])
	return Instance{
		Name: field(0), InstallDir: field(1), Version: field(2),
		Status: classifyStatus(status), StatusText: status, Since: sinceText(status),
		CPF:             field(4),
		SuperserverPort: port(field(5)), WebPort: port(field(6)), JDBCPort: port(field(7)),
		Health:  classifyHealth(field(8)),
		Product: field(9), MirrorMemberType: field(10), MirrorStatus: field(11),
		DataDirectory: field(12), SuperserverPorts: field(13),
	}
}

func classifyStatus(s string) Status {
	s = strings.ToLower(s)
	switch {
	case strings.HasPrefix(s, "running"):
		// includes "running on node ? (cache.ids missing)", which isclib
		// counts as ready
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

// sinceText returns the time in "running, since Mon Jul 23 14:42:09 2018" or
// "down, last used ...".
func sinceText(status string) string {
	_, rest, ok := strings.Cut(status, ", ")
	if !ok {
		return ""
	}
	for _, p := range []string{"since ", "last used "} {
		if t, ok := strings.CutPrefix(rest, p); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

func classifyHealth(s string) Health {
	switch h := Health(strings.ToLower(s)); h {
	case HealthOK, HealthWarn, HealthAlert, HealthHung:
		return h
	}
	return HealthNone
}

// port reads a port field; blank or malformed is 0 (unknown), since no
// decision of irisha's hangs on qlist's ports.
func port(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0
	}
	return n
}
