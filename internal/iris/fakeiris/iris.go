package fakeiris

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	realiris "github.com/irisha/irisha/internal/iris"
)

const daemonArg = "__fakeiris_instance"

// Main dispatches on the name the binary was called by and returns the exit code.
func Main(args []string, stdout io.Writer) int {
	name := filepath.Base(args[0])
	switch {
	case len(args) > 1 && args[1] == daemonArg:
		return daemon(stdout)
	case name == "iris-main":
		return irisMain(args[1:], stdout)
	case name == "iris":
		return irisCommand(args[1:], stdout)
	}
	fmt.Fprintf(stdout, "fake-iris: call me as iris or iris-main (symlink), not %s\n", name)
	return 2
}

func irisCommand(args []string, out io.Writer) int {
	if len(args) < 2 || !strings.EqualFold(args[1], realiris.InstanceName) {
		fmt.Fprintln(out, "usage: iris COMMAND IRIS [ARGS]")
		return 1
	}
	in, err := newInstance()
	if err != nil {
		fmt.Fprintln(out, "iris:", err)
		return 1
	}
	switch args[0] {
	case "qlist":
		return qlist(in, out)
	case "stop":
		return stop(in, syscall.SIGTERM)
	case "force":
		return stop(in, syscall.SIGKILL)
	case "merge":
		return merge(in, args[2:], out)
	case "session":
		return session(in, args[2:], out)
	case "stat":
		if len(args) > 2 && args[2] == "-W" {
			_ = in.update(func(s *state) { s.Frozen = false })
			return 0
		}
	}
	fmt.Fprintf(out, "iris: %s is not implemented by the fake\n", args[0])
	return 1
}

func qlist(in *instance, out io.Writer) int {
	if in.control("hang") {
		select {} // alive but not answering; the caller's timeout decides
	}
	s, up := in.running()
	status := "down, last used " + time.Now().Format(time.ANSIC)
	health := ""
	if up {
		status = "running, since " + s.Since.Format(time.ANSIC)
		health = "ok"
		if s.Frozen {
			// The System Monitor reports HUNG when the write daemon is
			// suspended for more than a few seconds.
			health = "hung"
		}
	}
	fmt.Fprintf(out, "IRIS^/usr/irissys^2025.1.0.223.0^%s^iris.cpf^1972^52773^62972^%s^IRIS^^^%s^1972\n", status, health, in.dataDir)
	return 0
}

func stop(in *instance, sig syscall.Signal) int {
	s, up := in.running()
	if !up {
		return 0
	}
	_ = syscall.Kill(s.Pid, sig)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !alive(s.Pid) {
			_ = in.update(func(s *state) { s.Up = false })
			return 0
		}
	}
	return 1
}

func merge(in *instance, args []string, out io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(out, "iris merge: no file")
		return 1
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(out, "iris merge:", err)
		return 1
	}
	if _, err := realiris.ParseMerge(string(b)); err != nil {
		fmt.Fprintln(out, "ERROR #5001: merge failed:", err)
		return 1
	}
	if err := os.WriteFile(in.mgr("merged.cpf"), b, 0o644); err != nil {
		fmt.Fprintln(out, "iris merge:", err)
		return 1
	}
	return 0
}

// Exit codes of `iris session` in script mode.
const (
	exitYes = 5
	exitNo  = 3
)

func session(in *instance, args []string, out io.Writer) int {
	call := strings.Join(args, " ")
	_, up := in.running()
	switch {
	case strings.Contains(call, "ExternalFreeze"):
		if !up || in.control("freeze-fails") {
			fmt.Fprintln(out, "ExternalFreeze failed")
			return exitNo
		}
		_ = in.update(func(s *state) { s.Frozen = true })
		return exitYes
	case strings.Contains(call, "ExternalThaw"):
		if !in.control("thaw-ignored") {
			_ = in.update(func(s *state) { s.Frozen = false })
		}
		return 0
	case strings.Contains(call, "IsWDSuspendedExt"):
		if in.load().Frozen {
			return exitYes
		}
		return exitNo
	}
	fmt.Fprintf(out, "iris session: %s is not implemented by the fake\n", call)
	return 1
}
