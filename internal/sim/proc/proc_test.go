package proc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestKillGroupAndRegistry(t *testing.T) {
	var reg Registry
	// A shell with a child: killing the group must take both.
	p, err := Start(&reg, "sh", exec.Command("sh", "-c", "sleep 60 & wait"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(p.PID()) {
		t.Fatal("process not alive after start")
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := reg.KillAll(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range reg.PIDs() {
		if Alive(pid) {
			t.Errorf("pid %d alive after KillAll", pid)
		}
	}
	if !p.Exited() || p.Err() == nil {
		t.Errorf("want an exited process with a kill error, got exited=%v err=%v", p.Exited(), p.Err())
	}
}

func TestTerminateFallsBackToKill(t *testing.T) {
	p, err := Start(nil, "stubborn", exec.Command("sh", "-c", "trap '' TERM; sleep 60"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Terminate(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if Alive(p.PID()) {
		t.Fatal("still alive")
	}
}

func TestAliveUnknownPID(t *testing.T) {
	if Alive(1 << 30) {
		t.Fatal("absurd pid reported alive")
	}
}

// A daemon that leaves the process group (setsid, as IRIS's do) still dies
// with its container: on Kill, and when the container's process exits.
func TestTaggedDescendantsDie(t *testing.T) {
	p, err := Start(nil, "daemonizer", exec.Command("sh", "-c", "setsid sleep 60 & exec sleep 60"), "")
	if err != nil {
		t.Fatal(err)
	}
	daemons := waitTagged(t, p.Tag(), 2, "sleep")
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for _, pid := range daemons {
		// Signals are delivered asynchronously.
		deadline := time.Now().Add(5 * time.Second)
		for st, _ := State(pid); st != 'T'; st, _ = State(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d state %q after SIGSTOP, want T", pid, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if left := Tagged(p.Tag()); len(left) > 0 {
		t.Fatalf("processes %v survive their container's kill", left)
	}

	// The main process exits by itself, leaving a daemon behind.
	p, err = Start(nil, "leaver", exec.Command("sh", "-c", "setsid sleep 60 & sleep 0.2"), "")
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if left := Tagged(p.Tag()); len(left) > 0 {
		t.Fatalf("processes %v outlive their container's main process", left)
	}
}

// waitTagged waits until n tagged processes run the command comm.
func waitTagged(t *testing.T, tag string, n int, comm string) []int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var pids []int
		for _, pid := range Tagged(tag) {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil && strings.TrimSpace(string(b)) == comm {
				pids = append(pids, pid)
			}
		}
		if len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("tagged processes %v, want %d", pids, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHasEntry(t *testing.T) {
	for _, c := range []struct {
		env  string
		want bool
	}{
		{"A=1\x00IRISHA_SIM_PROC=x\x00", true},
		{"IRISHA_SIM_PROC=x\x00A=1\x00", true},
		{"A=1\x00IRISHA_SIM_PROC=x", true},
		{"A=1\x00IRISHA_SIM_PROC=xy\x00", false},
		{"A=1\x00OTHER_IRISHA_SIM_PROC=x\x00", false},
	} {
		if got := hasEntry([]byte(c.env), []byte("IRISHA_SIM_PROC=x\x00")); got != c.want {
			t.Errorf("hasEntry(%q) = %v", c.env, got)
		}
	}
}
