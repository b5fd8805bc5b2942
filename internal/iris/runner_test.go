package iris

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExecRunner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		runner ExecRunner
		script string
		out    string
		code   int
	}{
		{"success keeps stdout only", ExecRunner{}, "echo out; echo err >&2", "out\n", 0},
		{"failure appends stderr", ExecRunner{}, "echo out; echo err >&2; exit 3", "out\nerr\n", 3},
		{"exit 5", ExecRunner{}, "exit 5", "", 5},
		{"killed by a signal", ExecRunner{}, "kill -9 $$", "", 128 + 9},
		{"environment", ExecRunner{Env: []string{"FOO=bar"}}, `echo "$FOO"`, "bar\n", 0},
		{"start hook", ExecRunner{Start: func(c *exec.Cmd) error {
			if err := c.Start(); err != nil {
				return err
			}
			return c.Wait()
		}}, "echo hooked; exit 4", "hooked\n", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code, err := tc.runner.Run(context.Background(), "/bin/sh", "-c", tc.script)
			if err != nil || out != tc.out || code != tc.code {
				t.Errorf("got %q, %d, %v; want %q, %d", out, code, err, tc.out, tc.code)
			}
		})
	}
}

func TestExecRunnerErrors(t *testing.T) {
	if _, code, err := (ExecRunner{}).Run(context.Background(), "/nonexistent/iris", "qlist"); err == nil || code != -1 {
		t.Errorf("a missing binary: code %d, err %v", code, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, code, err := (ExecRunner{}).Run(ctx, "/bin/sh", "-c", "exit 0"); err == nil || code != -1 {
		t.Errorf("a cancelled context: code %d, err %v", code, err)
	}
}

// A daemon left behind holding stdout (as `iris start` may leave one) must
// not keep Run waiting past the pipe grace.
func TestExecRunnerDoesNotWaitForDaemonsHoldingThePipe(t *testing.T) {
	r := ExecRunner{PipeGrace: 50 * time.Millisecond}
	done := make(chan struct{})
	var out string
	var code int
	var err error
	go func() {
		defer close(done)
		out, code, err = r.Run(context.Background(), "/bin/sh", "-c", "sleep 60 & echo $!")
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run waited for the daemon")
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(out))
	if perr == nil && pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL) // the sleep, reparented away from us
	}
	if err != nil || code != 0 || perr != nil {
		t.Errorf("got %q, %d, %v", out, code, err)
	}
}
