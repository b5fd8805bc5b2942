package fakeiris

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Main runs the fake as the name it was called by (busybox style) and
// returns the exit code: `iris`, `iris-main`, or, with the hidden first
// argument daemonArg, the instance process that both start. stdin is read
// only by a terminal session (`iris session IRIS` without code).
func Main(args []string, stdin io.Reader, stdout io.Writer) int {
	name := ""
	if len(args) > 0 {
		name = filepath.Base(args[0])
	}
	daemonMode := len(args) > 1 && args[1] == daemonArg
	if !daemonMode && name != "iris" && name != "iris-main" {
		return say(stdout, 2, "fake IRIS: call me as iris or iris-main (a symlink), not %q", name)
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return say(stdout, 1, "fake IRIS: %v", err)
	}
	switch {
	case daemonMode:
		return daemon(cfg, stdout)
	case name == "iris-main":
		return irisMain(cfg, args[1:], stdout)
	}
	return irisCommand(cfg, args[1:], stdin, stdout)
}

// say prints one line to out and returns code, so a command can answer and
// exit in one statement.
func say(out io.Writer, code int, format string, args ...any) int {
	_, _ = fmt.Fprintf(out, format+"\n", args...)
	return code
}
