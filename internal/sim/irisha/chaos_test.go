package simirisha_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/chaos"
	clichaos "github.com/irisha/irisha/internal/cli/chaos"
	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/observe"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

// TestChaosDrills runs irisha chaos run with every drill against an
// instance in the simulated cluster, through the simulated kubelet's exec
// and the sim's node hooks: each recovers, no acknowledged row is lost, no old pod
// acknowledges after the new one, the operator's marks come in order, the
// journal shows one writer at every moment (W1) and the three reports are
// written.
func TestChaosDrills(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*testTimeout)
	defer cancel()
	b := bootWith(ctx, t, true)
	c := b.cluster
	inst, w1 := deployWatched(ctx, t, b, v1alpha1.FailoverLease, observe.RunningReady)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := c.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	// irisha chaos run, as the command runs it, with the sim's exec and
	// node hooks in place of kubectl exec and --node-fault-command.
	var out, progress strings.Builder
	o := clichaos.NewRunOptions(&out, &progress)
	o.Instance, o.Scenarios, o.Output, o.OutputDir = instName, "all", "json", t.TempDir()
	o.Execer, o.NodeFaults = c, sim.NodeFaults{C: c}
	if err := o.Run(ctx, &kube.Flags{Kubeconfig: kubeconfig, Namespace: ns}); err != nil {
		t.Errorf("irisha chaos run: %v\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())
	var rep chaos.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil || len(rep.Setups) != 1 {
		t.Fatalf("-o json printed no report (%v):\n%s", err, out.String())
	}
	results := rep.Setups[0].Results
	if len(results) != len(chaos.AllScenarios()) {
		t.Fatalf("%d results for %d drills", len(results), len(chaos.AllScenarios()))
	}
	if !strings.Contains(rep.Journal, "SynchCommit") {
		t.Errorf("the report does not state the journal settings: %q", rep.Journal)
	}
	for _, r := range results {
		t.Run(string(r.Scenario), func(t *testing.T) {
			if !r.Recovered || r.RTOSeconds == nil {
				t.Fatalf("did not recover: %s", r.Error)
			}
			if r.RPORows() != 0 {
				t.Errorf("RPO %d rows (lost %v; %s)", r.RPORows(), r.Lost, r.Error)
			}
			if r.StaleAcks != 0 {
				t.Errorf("the old pod acknowledged %d rows after the new one", r.StaleAcks)
			}
			switch {
			case r.Acknowledged == 0:
				t.Errorf("no row acknowledged")
			case r.Scenario == chaos.BackupRestore && r.Failed != 0:
				t.Errorf("%d writes failed during the backup: a freeze must not stop them", r.Failed)
			case r.Scenario != chaos.BackupRestore && r.Failed == 0:
				t.Errorf("no write failed: the fault did not interrupt the database")
			}
			checkMarks(t, r)
		})
	}

	for _, v := range w1.Violations() {
		t.Errorf("W1 violated: %+v", v)
	}
	dataDir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := simirisha.CheckJournal(dataDir)
	if err != nil {
		t.Errorf("journal: %v", err)
	}
	b.daemons = append(b.daemons, simirisha.Writers(entries)...)

	for _, f := range []string{"report.md", "report.html", "report.json"} {
		data, err := os.ReadFile(filepath.Join(o.OutputDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if !strings.Contains(string(data), string(r.Scenario)) {
				t.Errorf("%s does not mention %s", f, r.Scenario)
			}
		}
	}
	if nodes, err := c.Clientset().CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nodes.Items {
			if n.Spec.Unschedulable {
				t.Errorf("node %s left cordoned", n.Name)
			}
		}
	}
}

// checkMarks asserts the orderings of a drill's timeline: detection
// before fencing before the replacement's Ready before the first write;
// node faults need the operator's own detection and fencing.
func checkMarks(t *testing.T, r chaos.Result) {
	t.Helper()
	at := map[chaos.MarkKind]float64{}
	for _, m := range r.Marks {
		at[m.Kind] = m.Seconds
	}
	order := []chaos.MarkKind{chaos.MarkDetected, chaos.MarkFenced, chaos.MarkReady, chaos.MarkFirstWrite}
	if r.Scenario == chaos.BackupRestore {
		order = []chaos.MarkKind{chaos.MarkFrozen, chaos.MarkCut, chaos.MarkThawed, chaos.MarkCompleted, chaos.MarkRestore, chaos.MarkReady, chaos.MarkFirstWrite}
	}
	var prev chaos.MarkKind
	for _, k := range order {
		s, ok := at[k]
		if !ok {
			if k == chaos.MarkFenced && (r.Scenario == chaos.IrisStop) {
				continue // the container restarts in the same pod: nothing to fence
			}
			t.Errorf("no %s mark: %+v", k, r.Marks)
			continue
		}
		if prev != "" && s < at[prev] {
			t.Errorf("%s at %.3f s comes before %s at %.3f s", k, s, prev, at[prev])
		}
		prev = k
	}
	if r.Scenario == chaos.NodeKill || r.Scenario == chaos.NodePartition {
		for _, m := range r.Marks {
			if m.Kind == chaos.MarkFenced && !strings.HasPrefix(m.Detail, "operator:") {
				t.Errorf("%s fenced by %q, want the operator's record", r.Scenario, m.Detail)
			}
		}
	}
	if rto := *r.RTOSeconds; rto < at[chaos.MarkReady] && r.Scenario != chaos.BackupRestore {
		t.Errorf("RTO %.3f s before the replacement was Ready (%.3f s)", rto, at[chaos.MarkReady])
	}
}
