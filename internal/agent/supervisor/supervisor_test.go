package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newReaper(t *testing.T) *Reaper {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, err := NewReaper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		_ = p.Signal(syscall.SIGKILL)
		t.Fatal("the child did not exit")
	}
}

func TestExitCodeIsPropagated(t *testing.T) {
	r := newReaper(t)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"kill -KILL $$", 128 + 9},
	} {
		p, err := r.Start("/bin/sh", "-c", tc.script)
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, p)
		if got := p.ExitCode(); got != tc.want {
			t.Errorf("%q: exit code %d, want %d", tc.script, got, tc.want)
		}
		r.main = nil
	}
}

func TestSignalsAreForwarded(t *testing.T) {
	r := newReaper(t)
	// Like iris-main: trap SIGTERM and shut down cleanly (exit 0).
	p, err := r.Start("/bin/sh", "-c", `trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the shell install its trap
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	if got := p.ExitCode(); got != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0 (a clean stop)", got)
	}
}

// TestZombiesAreReaped: the child leaves orphans that exit after it; as
// subreaper the agent inherits them and must reap them all.
func TestZombiesAreReaped(t *testing.T) {
	r := newReaper(t)
	p, err := r.Start("/bin/sh", "-c", `for i in 1 2 3 4 5; do (sleep 0.2; exit 0) & done; exit 0`)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	deadline := time.Now().Add(10 * time.Second)
	for r.Orphans() < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.Orphans(); got < 5 {
		t.Errorf("reaped %d orphans, want 5", got)
	}
	zombies, err := zombieChildren(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(zombies) != 0 {
		t.Errorf("zombies left: %v", zombies)
	}
}

// TestOwnedCommandsKeepTheirStatus: commands the agent runs itself (iris
// qlist, freeze) must get their exit status although the reaper runs.
func TestOwnedCommandsKeepTheirStatus(t *testing.T) {
	r := newReaper(t)
	for i := 0; i < 100; i++ {
		err := r.Run(exec.Command("/bin/sh", "-c", "exit 5"))
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 5 {
			t.Fatalf("run %d: err = %v, want exit status 5", i, err)
		}
	}
}

// TestKillTree runs a fake agent in a child process (this test binary again)
// that starts a tree, including a daemon that escaped to its own session, and
// kills it; every process of the tree must be gone.
func TestKillTree(t *testing.T) {
	if os.Getenv("SUPERVISOR_KILLTREE_AGENT") == "1" {
		killTreeAgent()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillTree$")
	cmd.Env = append(os.Environ(), "SUPERVISOR_KILLTREE_AGENT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fake agent: %v\n%s", err, out)
	}
	var pids []int
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "tree "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) < 3 {
		t.Fatalf("the fake agent reported tree %v:\n%s", pids, out)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			if _, state, ok := readStat(pid); ok && state != 'Z' {
				t.Errorf("pid %d survived KillTree", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func killTreeAgent() {
	ctx := context.Background()
	r, err := NewReaper(ctx)
	if err != nil {
		fmt.Println("reaper:", err)
		os.Exit(2)
	}
	// A parent with a child, and a daemon in its own session whose parent
	// exits: the daemon is re-parented to the agent.
	p, err := r.Start("/bin/sh", "-c", `sleep 300 & setsid sh -c 'sleep 300' & sleep 300`)
	if err != nil {
		fmt.Println("start:", err)
		os.Exit(2)
	}
	var tree []int
	for deadline := time.Now().Add(10 * time.Second); len(tree) < 4 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		tree, err = descendants(os.Getpid())
	}
	if err != nil || len(tree) < 4 {
		fmt.Println("descendants:", tree, err)
		os.Exit(2)
	}
	fmt.Println("tree", strings.Trim(fmt.Sprint(tree), "[]"))
	if _, err := KillTree(); err != nil {
		fmt.Println("killtree:", err)
		os.Exit(2)
	}
	<-p.Done()
	// Killed processes take a moment to become zombies.
	left, _ := descendants(os.Getpid())
	for deadline := time.Now().Add(5 * time.Second); len(left) != 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		left, _ = descendants(os.Getpid())
	}
	if len(left) != 0 {
		fmt.Println("left:", left)
		os.Exit(2)
	}
	os.Exit(0)
}
