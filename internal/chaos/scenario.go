package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/drain"
)

// drillSpec is how one drill breaks things and puts them back.
type drillSpec struct {
	scenario Scenario
	// failureDomain in the article's words; mitigatedBy what brings
	// irisha's instance back (a Setup may say otherwise for the reference).
	failureDomain, mitigatedBy string
	// nodeFaults: the drill needs NodeFaults (the API cannot do it).
	nodeFaults bool
	inject     func(ctx context.Context, r *runner, d *drillState) error
	// undo runs once the drill has recovered or given up: the node back in
	// service, so the next drill finds the cluster as this one did.
	undo func(ctx context.Context, r *runner, d *drillState) error
}

var drillSpecs = []drillSpec{
	{
		scenario:      IrisStop,
		failureDomain: "IRIS instance inside the container",
		mitigatedBy:   "the agent (PID 1) ends the container when IRIS stops; the kubelet restarts it",
		inject: func(ctx context.Context, r *runner, d *drillState) error {
			// The article's `kubectl exec POD -- iris stop iris quietly`.
			ctx, cancel := context.WithTimeout(ctx, r.opts.RecoveryTimeout)
			defer cancel()
			_, err := r.opts.Exec.Exec(ctx, r.opts.Target.Namespace, d.old.Name, r.opts.Target.Container, nil, "iris", "stop", "IRIS", "quietly")
			if err != nil && containerWentDown(ctx, r, d) {
				// When the container's main process ends with IRIS (the
				// reference's iris-main), the exec session dies with it:
				// the stop did what it was asked.
				return nil
			}
			return err
		},
	},
	{
		scenario:      PodDelete,
		failureDomain: "Pod or container",
		mitigatedBy:   "the Deployment recreates the pod; the volume follows it",
		inject: func(ctx context.Context, r *runner, d *drillState) error {
			return r.opts.Clientset.CoreV1().Pods(d.old.Namespace).Delete(ctx, d.old.Name, metav1.DeleteOptions{}) // the pod's own grace period, as kubectl delete pod
		},
	},
	{
		scenario:      Drain,
		failureDomain: "Node taken out of service (drained)",
		mitigatedBy:   "eviction; the pod starts on another node and the replicated volume attaches there",
		inject: func(ctx context.Context, r *runner, d *drillState) error {
			// kubectl drain returns once the node is empty, which is before
			// recovery: it runs beside the measurement, not in its way.
			go func() {
				if err := drain.Drain(ctx, r.opts.Clientset, d.node, r.opts.Log); err != nil && ctx.Err() == nil {
					d.asyncErr(fmt.Errorf("draining %s: %w", d.node, err))
				}
			}()
			return nil
		},
		undo: func(ctx context.Context, r *runner, d *drillState) error {
			return drain.Uncordon(ctx, r.opts.Clientset, d.node)
		},
	},
	{
		scenario:      NodeKill,
		failureDomain: "Permanent node or disk failure",
		mitigatedBy:   "the fencing Lease expires; the operator fences the old pod and its attachment and the pod starts elsewhere",
		nodeFaults:    true,
		inject: func(ctx context.Context, r *runner, d *drillState) error {
			return r.opts.Nodes.Kill(ctx, d.node)
		},
		undo: func(ctx context.Context, r *runner, d *drillState) error {
			return r.opts.Nodes.Heal(ctx, d.node)
		},
	},
	{
		scenario:      NodePartition,
		failureDomain: "Node temporarily unavailable (zone off-line)",
		mitigatedBy:   "the cut-off agent stops IRIS before its Lease expires; the operator fails over once it has",
		nodeFaults:    true,
		inject: func(ctx context.Context, r *runner, d *drillState) error {
			return r.opts.Nodes.Partition(ctx, d.node)
		},
		undo: func(ctx context.Context, r *runner, d *drillState) error {
			return r.opts.Nodes.Heal(ctx, d.node)
		},
	},
}

// containerWentDown says whether the old pod's IRIS container restarted or
// stopped running, as its kubelet reports within a few seconds.
func containerWentDown(ctx context.Context, r *runner, d *drillState) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if p, err := r.opts.Clientset.CoreV1().Pods(d.old.Namespace).Get(ctx, d.old.Name, metav1.GetOptions{}); err == nil {
			for _, c := range p.Status.ContainerStatuses {
				if c.Name == r.opts.Target.Container && (c.RestartCount > restartsOf(d.old, c.Name) || c.State.Running == nil) {
					return true
				}
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return false
}

// specOf returns the drill of a scenario.
func specOf(s Scenario) (drillSpec, bool) {
	i := slices.IndexFunc(drillSpecs, func(d drillSpec) bool { return d.scenario == s })
	if i < 0 {
		return drillSpec{}, false
	}
	return drillSpecs[i], true
}

// AllScenarios are the drills in the order the article runs them, then
// the partition, then the backup.
func AllScenarios() []Scenario {
	out := make([]Scenario, 0, len(drillSpecs)+1)
	for _, d := range drillSpecs {
		out = append(out, d.scenario)
	}
	return append(out, BackupRestore)
}

// ParseScenarios parses a comma-separated list ("all" for every drill).
func ParseScenarios(s string) ([]Scenario, error) {
	if strings.TrimSpace(s) == "all" {
		return AllScenarios(), nil
	}
	var out []Scenario
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		sc := Scenario(f)
		if !slices.Contains(AllScenarios(), sc) {
			return nil, fmt.Errorf("unknown scenario %q: want some of %s, or all", f, joinScenarios(AllScenarios()))
		}
		if slices.Contains(out, sc) {
			return nil, fmt.Errorf("scenario %q given twice", f)
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario given: want some of %s, or all", joinScenarios(AllScenarios()))
	}
	return out, nil
}

func joinScenarios(ss []Scenario) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

// pollInterval is how often a drill looks at the writer's attempts.
const pollInterval = 100 * time.Millisecond
