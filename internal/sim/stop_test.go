package sim_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/proc"
)

// TestStopKillsEveryProcess: after Stop no process the sim started is
// alive (control plane, kwok, processes on nodes, a frozen node's stopped
// processes) and the work directory is gone.
func TestStopKillsEveryProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster")
	}
	c := startCluster(t, sim.Options{Nodes: 2})
	nodes := c.Nodes()
	if _, err := nodes[0].StartProcess("daemon", exec.Command("sleep", "600")); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].StartProcess("daemon", exec.Command("sleep", "600")); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Freeze(); err != nil {
		t.Fatal(err)
	}
	pids := c.PIDs()
	// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and
	// per node kwok and the daemon.
	if len(pids) != 4+2*2 {
		t.Fatalf("want 8 processes, got %v", pids)
	}
	for _, pid := range pids {
		if !proc.Alive(pid) {
			t.Fatalf("process %d not running before Stop", pid)
		}
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if proc.Alive(pid) {
			t.Errorf("process %d alive after Stop", pid)
		}
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind (%v)", c.Dir(), err)
	}
}
