package fakeiris

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/irisha/irisha/internal/iris"
)

// irisCommand is `iris <command> IRIS [args]`; only a terminal session
// reads in.
func irisCommand(cfg config, args []string, in io.Reader, out io.Writer) int {
	if len(args) < 2 || !strings.EqualFold(args[1], iris.InstanceName) {
		return say(out, 1, "usage: iris <qlist|start|stop|force|merge|session|stat> IRIS [arguments]")
	}
	cmd, rest := strings.ToLower(args[0]), args[2:]
	if cmd != "force" && cmd != "start" {
		// a hung instance answers nothing but a force; the caller's
		// timeout decides, as with the real one
		waitWhileHung(cfg)
	}
	switch cmd {
	case "qlist":
		return qlist(cfg, out)
	case "start":
		return start(cfg, out)
	case "stop":
		forced, err := stop(cfg)
		if err != nil {
			return say(out, 1, "iris stop: %v", err)
		}
		if forced {
			_, _ = fmt.Fprintf(out, "Shutdown timed out after %s; forced the shutdown\n", shutdownTimeout(cfg))
		}
		return 0
	case "force":
		if err := force(cfg); err != nil {
			return say(out, 1, "iris force: %v", err)
		}
		return 0
	case "merge":
		return merge(cfg, rest, out)
	case "session":
		return session(cfg, rest, in, out)
	case "stat":
		if len(rest) == 1 && rest[0] == "-W" {
			return resumeWriteDaemon(cfg, out)
		}
	}
	return say(out, 1, "iris %s: not implemented by the fake", strings.Join(args, " "))
}

func waitWhileHung(cfg config) {
	for cfg.control(ControlHang) {
		time.Sleep(poll)
	}
}

func qlist(cfg config, out io.Writer) int {
	st, err := store{cfg}.load()
	if err != nil {
		return say(out, 1, "iris qlist: %v", err)
	}
	_, _ = fmt.Fprintln(out, qlistLine(cfg, st, observed(st, alive), time.Now()))
	return 0
}

// qlistLine formats the 14 qlist fields. The status texts are the ones
// irisha parses; health reads hung while the write daemon is frozen (the
// System Monitor's HUNG state, which the docs warn about) and alert after
// a crash recovery.
func qlistLine(cfg config, st state, phase string, now time.Time) string {
	since := st.Since.Format(time.ANSIC)
	status, health := "down, last used "+since, ""
	switch phase {
	case phaseStarting:
		status = "sign-on inhibited, since " + since
	case phaseStopping:
		status = "starting or stopping"
	case phaseRunning:
		status, health = "running, since "+since, "ok"
		switch {
		case st.Frozen:
			health = "hung"
		case now.Before(st.AlertUntil):
			health = "alert"
		}
	}
	if st.Since.IsZero() {
		status = strings.TrimSuffix(status, ", last used "+since)
	}
	port := portOf(cfg.superserver)
	if phase != phaseDown && st.Superserver != "" {
		port = portOf(st.Superserver)
	}
	return strings.Join([]string{
		iris.InstanceName, "/usr/irissys", cfg.version, status, "iris.cpf", port, "52773", "53773",
		health, "IRIS", "", "", cfg.dataDir, port,
	}, "^")
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && addr[i+1:] != "0" {
		return addr[i+1:]
	}
	return "1972"
}

// start is `iris start IRIS`: it returns once logons are enabled.
func start(cfg config, out io.Writer) int {
	if st, err := (store{cfg}).load(); err == nil && observed(st, alive) != phaseDown {
		return say(out, 0, "InterSystems IRIS instance IRIS is already running")
	}
	if code := prepare(cfg, out); code != 0 {
		return code
	}
	cmd, err := spawn(nil)
	if err != nil {
		return say(out, 1, "iris start: %v", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release() // the instance outlives this command
	if err := waitRunning(store{cfg}, pid); err != nil {
		return say(out, 1, "iris start: %v", err)
	}
	return say(out, 0, "InterSystems IRIS instance IRIS started")
}

// prepare readies durable %SYS and applies $ISC_CPF_MERGE_FILE before a
// start. A missing merge file is reported and startup continues, as the
// docs say; a malformed one stops the start (what IRIS does then is not
// documented; failing loudly is what irisha must guard against).
func prepare(cfg config, out io.Writer) int {
	if err := prepareDurableSys(cfg); err != nil {
		return say(out, 1, "[ERROR] %v", err)
	}
	if cfg.mergeFile == "" {
		return 0
	}
	if _, err := applyMerge(cfg, cfg.mergeFile); err != nil {
		if isNotExist(err) {
			return say(out, 0, "[ERROR] merge file %s does not exist; continuing without it", cfg.mergeFile)
		}
		return say(out, 1, "[ERROR] configuration merge failed: %v", err)
	}
	return 0
}

// merge is `iris merge IRIS [file] [cpf]`; the target CPF is always the
// durable iris.cpf. A running instance takes the settings it can at once
// and the others (iris.NeedsRestart) at its next start; the exit code is 0
// either way, as the docs describe no other.
func merge(cfg config, args []string, out io.Writer) int {
	file := cfg.mergeFile
	if len(args) > 0 {
		file = args[0]
	}
	if file == "" {
		return say(out, 1, "iris merge: no merge file given and %s is not set", EnvMergeFile)
	}
	merged, err := applyMerge(cfg, file)
	if err != nil {
		return say(out, 1, "Configuration merge failed: %v", err)
	}
	if err := applyLive(cfg, merged); err != nil {
		return say(out, 1, "Configuration merge failed: %v", err)
	}
	return say(out, 0, "Configuration merge of %s succeeded", file)
}

func resumeWriteDaemon(cfg config, out io.Writer) int {
	st, err := store{cfg}.load()
	if err != nil || observed(st, alive) == phaseDown {
		return say(out, 1, "iris stat: InterSystems IRIS is not running")
	}
	if _, _, err := (store{cfg}).update(func(st *state) { st.Frozen, st.FrozenUntil = false, time.Time{} }); err != nil {
		return say(out, 1, "iris stat: %v", err)
	}
	return say(out, 0, "Write daemon resumed")
}
