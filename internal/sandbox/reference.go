package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/irisha/irisha/internal/chaos"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/reference"
)

// referenceNamespace holds the reference YAML, beside irisha's instance.
const referenceNamespace = "reference"

// referenceMitigations are what brings the reference deployment back, or
// does not.
var referenceMitigations = map[chaos.Scenario]string{
	chaos.IrisStop:      "iris-main exits with IRIS; the kubelet restarts the container",
	chaos.PodDelete:     "the Deployment recreates the pod",
	chaos.Drain:         "eviction; the pod starts elsewhere once the volume has detached",
	chaos.NodeKill:      "nothing in time: taint eviction after 300 s, then the attach/detach controller's 6-minute force detach",
	chaos.NodePartition: "nothing in time: the same 300 s, while the old IRIS keeps running",
}

// referenceSetup runs the reference YAML's IRIS container as the fake
// iris-main, with no agent above it.
type referenceSetup struct {
	bins simirisha.Binaries

	mu sync.Mutex
	// dataDir is the host directory the reference's IRIS runs on.
	dataDir string
}

// runContainer is the sim's runner for containers that are not irisha's.
func (s *referenceSetup) runContainer(_ context.Context, env sim.ContainerEnv) (*sim.ContainerProcess, error) {
	if env.Pod.Namespace != referenceNamespace || env.Container != reference.Container {
		return nil, nil
	}
	cp, err := simirisha.IrisMain(s.bins, env)
	if err != nil {
		return nil, err
	}
	for _, v := range cp.Cmd.Env {
		if d, ok := strings.CutPrefix(v, fakeiris.EnvDataDir+"="); ok {
			s.mu.Lock()
			s.dataDir = d
			s.mu.Unlock()
		}
	}
	return cp, nil
}

// w1 checks the reference's fake IRIS journal, as the sandbox does
// irisha's: the reference has no fencing, so two IRIS on its volume at
// once show here.
func (s *referenceSetup) w1() string {
	s.mu.Lock()
	dir := s.dataDir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	return journalVerdict(dir)
}

// run deploys the reference YAML unchanged and runs the drills on it, each
// capped at 10 minutes (its node-loss recovery, if any, takes longer).
func (s *referenceSetup) run(ctx context.Context, c *sim.Cluster, scenarios []chaos.Scenario, progress func(string)) ([]chaos.Result, error) {
	if err := c.CreateNamespace(ctx, referenceNamespace); err != nil {
		return nil, err
	}
	if err := c.Create(ctx, referenceNamespace, reference.YAML()); err != nil {
		return nil, fmt.Errorf("creating the reference deployment: %w", err)
	}
	sel, err := labels.Parse(reference.Selector)
	if err != nil {
		return nil, err
	}
	return chaos.Run(ctx, chaos.Options{
		Target:    chaos.Target{Namespace: referenceNamespace, Selector: sel, Container: reference.Container},
		Scenarios: scenarios, Clientset: c.Clientset(), Exec: c, Nodes: sim.NodeFaults{C: c},
		MitigatedBy: referenceMitigations, RecoveryTimeout: referenceCap,
		Progress: func(line string) { progress("reference: " + line) },
	})
}

// referenceCap bounds each reference drill.
const referenceCap = 10 * time.Minute
