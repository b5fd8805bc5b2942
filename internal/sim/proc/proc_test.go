package proc

import (
	"os/exec"
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
