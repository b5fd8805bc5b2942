package sim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	simcluster "github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/proc"
)

func TestValidate(t *testing.T) {
	for _, o := range []UpOptions{
		{Nodes: 0, Zones: []string{"a"}, Kubeconfig: "k"},
		{Nodes: 1, Kubeconfig: "k"},
		{Nodes: 1, Zones: []string{"a"}},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestFlags(t *testing.T) {
	cmd := NewCommand()
	up, _, err := cmd.Find([]string{"up"})
	if err != nil {
		t.Fatal(err)
	}
	if err := up.ParseFlags([]string{"--nodes", "5", "--fast-timings", "--zones", "x,y"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := up.Flags().GetInt("nodes"); v != 5 {
		t.Fatalf("nodes %d", v)
	}
}

// TestUpAndInterrupt boots a one-node cluster, checks the kubeconfig and
// the printed instructions, then cancels (as Ctrl-C does) and checks that
// every process is gone and the kubeconfig removed.
func TestUpAndInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster")
	}
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cluster *simcluster.Cluster
	o := &UpOptions{
		Nodes: 1, Zones: []string{"zone-a"}, FastTimings: true, Out: &out,
		Kubeconfig: filepath.Join(t.TempDir(), "sim.kubeconfig"),
		ready: func(c *simcluster.Cluster) {
			cluster = c
			if _, err := os.Stat(filepath.Join(filepath.Dir(c.Kubeconfig()), "kubeconfig")); err != nil {
				t.Errorf("cluster kubeconfig: %v", err)
			}
			cancel()
		},
	}
	if err := o.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if cluster == nil {
		t.Fatal("never ready")
	}
	for _, want := range []string{"export KUBECONFIG=" + o.Kubeconfig, "node-1 (zone-a", "Stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, pid := range cluster.PIDs() {
		if proc.Alive(pid) {
			t.Errorf("pid %d alive after interrupt", pid)
		}
	}
	if _, err := os.Stat(o.Kubeconfig); !os.IsNotExist(err) {
		t.Errorf("kubeconfig left behind: %v", err)
	}
	if _, err := os.Stat(cluster.Dir()); !os.IsNotExist(err) {
		t.Errorf("work dir left behind: %v", err)
	}
}
