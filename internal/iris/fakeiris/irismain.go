package fakeiris

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
)

// mainOptions are the iris-main options the fake honours; the others are
// accepted and ignored.
type mainOptions struct {
	up, down bool
	version  bool
}

// valued are iris-main options that take a value ("The iris-main Program",
// https://docs.intersystems.com/irislatest/csp/docbook/DocBook.UI.Page.cls?KEY=ADOCK_iris_iscmain).
var valued = map[string]bool{
	"-i": true, "--instance": true, "-d": true, "--down": true, "-u": true, "--up": true,
	"-s": true, "--nostu": true, "-k": true, "--key": true, "-l": true, "--log": true,
	"-b": true, "--before": true, "-a": true, "--after": true, "-e": true, "--exit": true,
	"-c": true, "--create": true, "-t": true, "--terminate": true, "-p": true, "--password-file": true,
	"--ISCAgent": true, "--ISCAgentPort": true, "--check-caps": true,
}

func parseMainOptions(args []string) (mainOptions, error) {
	o := mainOptions{up: true, down: true}
	for i := 0; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		switch {
		case name == "--version":
			o.version = true
			continue
		case name == "-h" || name == "--help":
			return o, fmt.Errorf("usage: iris-main [--up true|false] [--down true|false] [other iris-main options]")
		case !valued[name]:
			return o, fmt.Errorf("unknown option %s", args[i])
		case !inline:
			if i+1 >= len(args) {
				return o, fmt.Errorf("option %s needs a value", name)
			}
			i++
			value = args[i]
		}
		var err error
		switch name {
		case "-u", "--up":
			o.up, err = parseBool(name, value)
		case "-d", "--down":
			o.down, err = parseBool(name, value)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("option %s takes true or false, not %q", name, v)
}

// irisMain is the container entrypoint: it starts the instance as its
// child, streams its log, and on SIGTERM or SIGINT runs the graceful stop
// (as `iris stop`, bounded by ShutdownTimeout). It exits when the instance
// does: 0 after a clean stop, 1 after a crash or a forced stop.
func irisMain(cfg config, args []string, out io.Writer) int {
	o, err := parseMainOptions(args)
	if err != nil {
		return say(out, 1, "[ERROR] %v", err)
	}
	if o.version {
		return say(out, 0, "iris-main (irisha fake) for InterSystems IRIS %s", cfg.version)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if code := prepare(cfg, out); code != 0 {
		return code
	}
	var exited chan int
	if o.up {
		say(out, 0, "[INFO] Starting InterSystems IRIS instance IRIS...")
		cmd, err := spawn(out)
		if err != nil {
			return say(out, 1, "[ERROR] %v", err)
		}
		exited = make(chan int, 1)
		go func() { exited <- exitCodeOf(cmd.Wait()) }()
		if err := waitRunning(store{cfg}, cmd.Process.Pid); err != nil {
			return say(out, 1, "[ERROR] %v", err)
		}
		say(out, 0, "[INFO] ...started InterSystems IRIS instance IRIS")
	}
	for {
		select {
		case sig := <-sigs:
			if !o.down {
				// IRIS keeps running; the container runtime kills it
				return say(out, 0, "[INFO] %s: --down false, leaving InterSystems IRIS instance IRIS running", sig)
			}
			say(out, 0, "[INFO] %s: shutting down InterSystems IRIS instance IRIS...", sig)
			forced, err := stop(cfg)
			switch {
			case err != nil:
				return say(out, 1, "[ERROR] iris stop: %v", err)
			case forced:
				return say(out, 1, "[WARN] the shutdown timed out and was forced")
			}
			if exited != nil {
				<-exited
			}
			return say(out, 0, "[INFO] ...shut down InterSystems IRIS instance IRIS")
		case code := <-exited:
			if code == exitStopped {
				return say(out, 0, "[INFO] InterSystems IRIS instance IRIS was stopped")
			}
			return say(out, 1, "[ERROR] InterSystems IRIS instance IRIS exited with status %d", code)
		}
	}
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			return 128 + int(syscall.SIGKILL) // killed by a signal: iris force
		}
		return ee.ExitCode()
	}
	if err != nil {
		return exitFailed
	}
	return exitStopped
}
