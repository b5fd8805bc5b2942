package fakeiris

import (
	"errors"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Exit codes of `iris session` in script mode.
const (
	exitYes     = 5 // frozen / suspended
	exitNo      = 3 // freeze failed / not suspended
	exitSession = 1 // the session itself failed
)

// Freeze timeouts (ExternalFreezeTimeOut): IRIS's default and cap, seconds.
const (
	defaultFreezeTimeout = 600
	maxFreezeTimeout     = 1200
)

// backupCall matches ##Class(Backup.General).Method(args) in any case.
var backupCall = regexp.MustCompile(`(?i)^##class\(Backup\.General\)\.(\w+)\(([^)]*)\)$`)

// sessionArgs splits the arguments of `iris session IRIS` into the
// namespace ("-U%SYS" or "-U" "%SYS"; USER when absent, as IRIS's default)
// and the code to run, if any.
func sessionArgs(args []string) (namespace string, code []string) {
	namespace = chaosNamespace
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-U":
			if i+1 < len(args) {
				namespace = args[i+1]
			}
			i++
		case strings.HasPrefix(args[i], "-U"):
			namespace = strings.TrimPrefix(args[i], "-U")
		default:
			code = append(code, args[i])
		}
	}
	return namespace, code
}

// parseSession returns the method and arguments of a Backup.General call in
// `iris session IRIS -U%SYS "<call>"`.
func parseSession(args []string) (method string, callArgs []string, ok bool) {
	_, code := sessionArgs(args)
	m := backupCall.FindStringSubmatch(strings.TrimSpace(strings.Join(code, " ")))
	if m == nil {
		return "", nil, false
	}
	return strings.ToLower(m[1]), strings.Split(m[2], ","), true
}

// freezeTimeout is the seventh argument, ExternalFreezeTimeOut, capped as
// IRIS caps it.
func freezeTimeout(args []string) time.Duration {
	seconds := defaultFreezeTimeout
	if len(args) >= 7 {
		if n, err := strconv.Atoi(strings.TrimSpace(args[6])); err == nil && n > 0 {
			seconds = min(n, maxFreezeTimeout)
		}
	}
	return time.Duration(seconds) * time.Second
}

// session is `iris session IRIS`: with code, one Backup.General call;
// without, a terminal reading in (terminal).
func session(cfg config, args []string, in io.Reader, out io.Writer) int {
	if namespace, code := sessionArgs(args); len(code) == 0 {
		return terminal(cfg, namespace, in, out)
	}
	method, callArgs, ok := parseSession(args)
	if !ok {
		return say(out, exitSession, "iris session %s: the fake runs only Backup.General calls", strings.Join(args, " "))
	}
	s := store{cfg}
	st, err := s.load()
	if err != nil || observed(st, alive) != phaseRunning {
		return say(out, exitSession, "<Startup Error>: InterSystems IRIS is not running")
	}
	switch method {
	case "externalfreeze":
		if cfg.control(ControlFreezeFails) {
			return say(out, exitNo, "ExternalFreeze failed: scripted by the control file")
		}
		until := time.Now().Add(freezeTimeout(callArgs))
		before, _, err := s.update(func(st *state) {
			if !st.Frozen {
				st.Frozen, st.FrozenUntil = true, until
			}
		})
		switch {
		case err != nil:
			return say(out, exitNo, "ExternalFreeze failed: %v", err)
		case before.Frozen:
			// [INF] a second freeze cannot be told apart from the first
			// one's owner; refusing it makes a confused caller thaw
			return say(out, exitNo, "ExternalFreeze failed: the write daemon is already suspended")
		}
		return say(out, exitYes, "System is frozen")
	case "externalthaw":
		if cfg.control(ControlThawIgnored) {
			return say(out, 0, "System thawed") // says so, but the daemon stays suspended
		}
		if _, _, err := s.update(func(st *state) { st.Frozen, st.FrozenUntil = false, time.Time{} }); err != nil {
			return say(out, exitSession, "ExternalThaw: %v", err)
		}
		return say(out, 0, "System thawed")
	case "iswdsuspendedext":
		if st.Frozen {
			return exitYes
		}
		return exitNo
	}
	return say(out, exitSession, "<METHOD DOES NOT EXIST> %s,Backup.General", method)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
