package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/semaphore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/observe"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/proc"
	"github.com/irisha/irisha/internal/sim/reference"
)

// settle is how long a frozen or partitioned node runs again, after it was
// thawed or healed, before the old IRIS is checked: it must have stopped
// and written nothing after the new writer started.
const settle = 15 * time.Second

type options struct {
	setups, scenarios []string
	planOptions
	parallel, nodes int
	fast            bool
	kcmQPS          int
	audit           bool
	workDir         string
	keep            string // keepAll, keepAnomalies, keepNone
	log             logr.Logger
	bins            simirisha.Binaries // built when irisha runs
}

// -keep values.
const (
	keepAll       = "all"
	keepAnomalies = "anomalies"
	keepNone      = "none"
)

func (o options) validate() error {
	if err := validateNames(o.setups, o.scenarios); err != nil {
		return err
	}
	if o.parallel < 1 || o.nodes < 2 || o.runs < 1 || o.otherRuns < 1 {
		return errors.New("need -parallel >= 1, -nodes >= 2, -runs >= 1 and -other-runs >= 1")
	}
	if o.timeout <= 0 || o.stuckTimeout <= 0 {
		return errors.New("need positive -timeout and -stuck-timeout")
	}
	if o.kcmQPS < 0 {
		return errors.New("need -kcm-api-qps >= 0 (0: Kubernetes' default)")
	}
	switch o.keep {
	case keepAll, keepAnomalies, keepNone:
	default:
		return fmt.Errorf("-keep %q: want %s, %s or %s", o.keep, keepAll, keepAnomalies, keepNone)
	}
	if o.audit && o.keep != keepAll {
		return errors.New("-audit needs -keep all: the audit log stays in each cluster's work directory")
	}
	return nil
}

func (o options) timings() sim.Timings {
	if o.fast {
		return sim.FastTimings()
	}
	return sim.DefaultTimings()
}

func (o options) timingsName() string {
	name := "Kubernetes defaults"
	if o.fast {
		name = "fast (sim.FastTimings)"
	}
	if o.kcmQPS > 0 {
		name += fmt.Sprintf(", but kube-controller-manager --kube-api-qps=%d", o.kcmQPS)
	}
	return name
}

// runAll runs every job in a cluster of its own, as many at once as the
// -parallel budget allows (jobs weigh 1 to 6, served in order), longest first, and returns
// the runs in table order.
func runAll(ctx context.Context, o options, pairs []pair) ([]runResult, error) {
	js := jobs(pairs)
	results := make([]runResult, len(js))
	sem := semaphore.NewWeighted(int64(o.parallel))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, j := range js {
		w := int64(min(weight(j.pair), o.parallel))
		if err := sem.Acquire(ctx, w); err != nil {
			break
		}
		wg.Go(func() {
			defer sem.Release(w)
			results[i] = runOne(ctx, o, j)
			mu.Lock()
			done++
			o.log.Info("Run finished", "setup", j.pair.Setup, "scenario", j.pair.Scenario, "run", j.run,
				"done", fmt.Sprintf("%d/%d", done, len(js)))
			mu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	order := map[string]int{}
	for i, p := range pairs {
		order[p.Setup+"/"+p.Scenario] = i
	}
	sort.SliceStable(results, func(a, b int) bool {
		ka, kb := order[results[a].Setup+"/"+results[a].Scenario], order[results[b].Setup+"/"+results[b].Scenario]
		if ka != kb {
			return ka < kb
		}
		return results[a].Run < results[b].Run
	})
	return results, nil
}

// app is one deployed application: the reference deployment or an
// IrisInstance, in a namespace of its own.
type app struct {
	ns        string
	selector  string
	container string
	irisha    bool

	old corev1.Pod
	rto *observe.RTO
	tl  *observe.Timeline
	// oldWriter is the IRIS process that wrote the journal before the
	// fault (irisha).
	oldWriter int
}

// runOne boots a cluster, deploys the pair's instances on one node,
// injects the fault and measures until every instance recovered or the
// pair's timeout; then it checks W1 (observers and, for irisha, the
// journals) and stops the cluster.
func runOne(ctx context.Context, o options, j job) (res runResult) {
	p := j.pair
	res = runResult{Setup: p.Setup, Scenario: p.Scenario, Run: j.run}
	started := time.Now()
	defer func() { res.WallSeconds = time.Since(started).Seconds() }()
	log := o.log.WithValues("setup", p.Setup, "scenario", p.Scenario, "run", j.run)
	bootCtx, cancel := context.WithTimeout(ctx, 3*time.Minute+time.Duration(p.Instances)*15*time.Second)
	defer cancel()
	irisha := isIrisha(p.Setup)
	opts := sim.Options{Nodes: o.nodes, Timings: o.timings(), ControllerManagerQPS: o.kcmQPS, AuditLog: o.audit, Log: log, WorkDir: o.workDir, KeepWorkDir: true}
	if irisha {
		opts.Runner = simirisha.Runner(o.bins, simirisha.RunnerOptions{})
	}
	c, err := sim.Start(bootCtx, opts)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer func() { stopCluster(c, o.keep, &res, log) }()

	runCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if irisha {
		// As irisha is meant to run: with the node witnesses, which a
		// failover waits for.
		if err := simirisha.StartWitnesses(bootCtx, c); err != nil {
			res.Error = err.Error()
			return res
		}
		opts := simirisha.OperatorOptions{Args: []string{"--witness-namespace=" + simirisha.WitnessNamespace}}
		if _, err := simirisha.StartOperator(bootCtx, c, o.bins, opts); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	if p.Setup == setupIrishaShutdown {
		// Mode NodeShutdown waits for this confirmation. The agent powers a
		// node off as soon as it is NotReady: a real one adds its health
		// checker's delay and the power-off itself.
		c.StartFenceAgent(runCtx, sim.FenceAgentOptions{Annotation: v1alpha1.AnnotationNodeFenced})
	}
	attachRequired, err := observe.AttachRequiredFrom(bootCtx, c.Clientset())
	if err != nil {
		res.Error = err.Error()
		return res
	}
	selector := reference.Selector
	container := reference.Container
	if irisha {
		selector, container = irishaSelector, irishaContainer
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	w1 := observe.NewW1(sel)
	if irisha {
		// The container is the agent, which runs before it holds the Lease;
		// the journal below checks the writes themselves.
		w1 = observe.NewW1Writers(sel, observe.RunningReady)
	}
	sinks := []observe.Sink{w1.Sink()}
	var apps []*app
	for i := range p.Instances {
		a := &app{ns: fmt.Sprintf("bench-%d", i+1), selector: selector, container: container, irisha: irisha}
		a.rto = observe.NewRTO(a.ns, sel, attachRequired)
		a.tl = observe.NewTimeline(a.ns, sel)
		sinks = append(sinks, a.rto.Sink(), a.tl.Sink())
		apps = append(apps, a)
	}
	if err := observe.Watch(runCtx, c.Clientset(), sinks...); err != nil {
		res.Error = err.Error()
		return res
	}

	// Every instance on one node: the others are cordoned until all run.
	nodes := c.Nodes()
	target := nodes[(j.run-1)%len(nodes)]
	res.Node = target.Name
	if err := deployAll(bootCtx, c, p.Setup, target.Name, apps); err != nil {
		res.Error = err.Error()
		return res
	}
	if irisha {
		for _, a := range apps {
			a.oldWriter = lastWriter(bootCtx, c, a)
		}
	}
	log.Info("Instances running; injecting the fault", "instances", len(apps), "node", target.Name)
	faultAt := time.Now()
	for _, a := range apps {
		a.rto.Fault(faultAt, &a.old)
		a.tl.Fault(faultAt, &a.old)
	}
	if err := inject(runCtx, c, faultOf(p.Scenario), target, apps, log); err != nil {
		res.Error = err.Error()
		return res
	}
	deadline := time.NewTimer(p.Timeout - time.Since(faultAt))
	defer deadline.Stop()
	timedOut := false
	for _, a := range apps {
		if timedOut {
			break
		}
		select {
		case <-a.rto.Done():
		case <-deadline.C:
			timedOut = true
		case <-ctx.Done():
			res.Error = ctx.Err().Error()
			return res
		}
	}
	// Recoveries count only while the fault lasts: a frozen or partitioned
	// node that comes back may let the old pod go, which is no failover.
	undoAt := time.Now()
	res.FaultSeconds = undoAt.Sub(faultAt).Seconds()
	checkCtx := context.WithoutCancel(runCtx)
	states := map[*app]string{}
	for _, a := range apps {
		states[a] = finalState(checkCtx, c, a)
	}
	// Undo the fault, let the node run again, then check. backAt is when
	// the node came back (zero if it did not: killed, or powered off by the
	// fence agent).
	var backAt time.Time
	// Neither comes back if the fence agent has powered it off meanwhile.
	switch faultOf(p.Scenario) {
	case nodeFreeze:
		if target.State() == sim.NodeFrozen {
			backAt = time.Now()
			if err := target.Thaw(); err != nil {
				res.Error = err.Error()
			}
		}
	case nodePartition:
		if target.State() == sim.NodeRunning {
			backAt = time.Now()
		}
		target.Heal()
	}
	if !backAt.IsZero() {
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			res.Error = ctx.Err().Error()
			return res
		}
	}
	for _, a := range apps {
		ir := instanceResult{Namespace: a.ns, OldPod: a.old.Name, OldNode: a.old.Spec.NodeName, OldWriter: a.oldWriter}
		if at, by, ok := a.rto.Recovered(); ok {
			if at.After(undoAt) {
				ir.AfterUndoSeconds = at.Sub(undoAt).Seconds()
			} else {
				ir.Recovered, ir.RTOSeconds = true, at.Sub(faultAt).Seconds()
			}
			ir.NewPod = by
			if np, err := c.Clientset().CoreV1().Pods(a.ns).Get(checkCtx, by, metav1.GetOptions{}); err == nil {
				ir.NewNode = np.Spec.NodeName
			}
		}
		for _, m := range a.tl.Milestones() {
			ir.Timeline = append(ir.Timeline, milestone{Key: m.Key, Seconds: m.At.Sub(faultAt).Seconds(), Detail: m.Detail})
		}
		if !backAt.IsZero() {
			back := milestone{Key: milestoneNodeBack, Seconds: res.FaultSeconds, Detail: target.Name}
			at, _ := slices.BinarySearchFunc(ir.Timeline, back.Seconds, func(m milestone, s float64) int { return cmp.Compare(m.Seconds, s) })
			ir.Timeline = slices.Insert(ir.Timeline, at, back)
		}
		ir.State = states[a]
		if irisha {
			checkJournal(checkCtx, c, a, backAt, &ir)
		}
		res.Instances = append(res.Instances, ir)
	}
	for _, v := range w1.Violations() {
		res.W1Violations = append(res.W1Violations, fmt.Sprintf("%s %s %v at %+.1f s for %s", v.Kind, v.Subject, v.Holders,
			v.Start.Sub(faultAt).Seconds(), violationLength(v)))
	}
	log.Info("Run done", "recovered", res.recovered(), "of", len(res.Instances), "w1", res.w1Count())
	return res
}

func violationLength(v observe.Violation) string {
	if v.End.IsZero() {
		return "the rest of the run"
	}
	return fmt.Sprintf("%.1f s", v.End.Sub(v.Start).Seconds())
}

// stopCluster stops the cluster, makes sure no IRIS process of it
// survives (they are killed by PID if one does, and that is reported),
// and removes the work directory unless it is to be kept.
func stopCluster(c *sim.Cluster, keep string, res *runResult, log logr.Logger) {
	if err := c.Stop(); err != nil {
		log.Error(err, "Stopping the cluster")
	}
	for _, ir := range res.Instances {
		for _, pid := range append([]int{ir.OldWriter}, ir.Writers...) {
			if pid > 0 && proc.Alive(pid) {
				res.Leftovers = append(res.Leftovers, pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, pid := range c.PIDs() {
		if proc.Alive(pid) {
			res.Leftovers = append(res.Leftovers, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if keep == keepAll || (keep == keepAnomalies && res.anomalous()) {
		res.WorkDir = c.Dir()
		return
	}
	if err := os.RemoveAll(c.Dir()); err != nil {
		log.Error(err, "Removing the work directory")
	}
}

// deployAll deploys every app with every node but target cordoned, waits
// until each has one Ready pod, and uncordons the other nodes.
func deployAll(ctx context.Context, c *sim.Cluster, setup, target string, apps []*app) error {
	var others []string
	for _, n := range c.Nodes() {
		if n.Name != target {
			others = append(others, n.Name)
		}
	}
	for _, n := range others {
		if err := c.Cordon(ctx, n); err != nil {
			return err
		}
	}
	var cl client.Client
	if isIrisha(setup) {
		var err error
		if cl, err = irishaClient(c); err != nil {
			return err
		}
	}
	for _, a := range apps {
		if err := c.CreateNamespace(ctx, a.ns); err != nil {
			return err
		}
		var err error
		if a.irisha {
			err = createInstance(ctx, cl, a.ns, setup)
		} else {
			err = createReference(ctx, c, setup, a.ns)
		}
		if err != nil {
			return err
		}
	}
	for _, a := range apps {
		pods, err := sim.WaitForPods(ctx, c.Clientset(), a.ns, a.selector, func(pods []corev1.Pod) bool {
			return len(pods) == 1 && sim.PodReady(&pods[0])
		})
		if err != nil {
			return fmt.Errorf("waiting for the pod in %s: %w", a.ns, err)
		}
		a.old = pods[0]
		if a.old.Spec.NodeName != target {
			return fmt.Errorf("pod %s/%s runs on %s, not on %s", a.ns, a.old.Name, a.old.Spec.NodeName, target)
		}
	}
	for _, n := range others {
		if err := c.Uncordon(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func createReference(ctx context.Context, c *sim.Cluster, setup, ns string) error {
	manifests, err := reference.WithStorageClass(setup)
	if err != nil {
		return err
	}
	return c.Create(ctx, ns, manifests)
}

// inject starts the fault. Drain and the force delete continue in the
// background, as an operator's commands would.
func inject(ctx context.Context, c *sim.Cluster, fault string, node *sim.Node, apps []*app, log logr.Logger) error {
	switch fault {
	case podDelete:
		for _, a := range apps {
			if err := c.DeletePod(ctx, a.ns, a.old.Name); err != nil {
				return err
			}
		}
		return nil
	case containerCrash:
		for _, a := range apps {
			if err := c.CrashContainer(ctx, a.ns, a.old.Name, a.container); err != nil {
				return err
			}
		}
		return nil
	case drain:
		go func() {
			if err := c.Drain(ctx, node.Name); err != nil && ctx.Err() == nil {
				log.Error(err, "Drain")
			}
		}()
		return nil
	case nodeKill:
		return node.Kill()
	case nodeKillForceDelete:
		if err := node.Kill(); err != nil {
			return err
		}
		// The documented manual remedy: once Kubernetes has marked the pod
		// for deletion, an admin force-deletes it.
		for _, a := range apps {
			go func() {
				if err := forceDeleteWhenTerminating(ctx, c, a); err != nil && ctx.Err() == nil {
					log.Error(err, "Force delete")
				}
			}()
		}
		return nil
	case nodeFreeze:
		return node.Freeze()
	case nodePartition:
		node.Partition()
		return nil
	}
	return fmt.Errorf("unknown fault %q", fault)
}

func forceDeleteWhenTerminating(ctx context.Context, c *sim.Cluster, a *app) error {
	_, err := sim.WaitForPods(ctx, c.Clientset(), a.ns, a.selector, func(pods []corev1.Pod) bool {
		for _, p := range pods {
			if p.UID == a.old.UID {
				return p.DeletionTimestamp != nil
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	zero := int64(0)
	err = c.Clientset().CoreV1().Pods(a.ns).Delete(ctx, a.old.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil {
		return fmt.Errorf("force-deleting %s/%s: %w", a.ns, a.old.Name, err)
	}
	return nil
}

// finalState describes the application's pods at the end of the fault
// (recovery or timeout).
func finalState(ctx context.Context, c *sim.Cluster, a *app) string {
	pods, err := c.Clientset().CoreV1().Pods(a.ns).List(ctx, metav1.ListOptions{LabelSelector: a.selector})
	if err != nil {
		return "unknown: " + err.Error()
	}
	var parts []string
	for _, p := range pods.Items {
		role := "replacement"
		if p.UID == a.old.UID {
			role = "old pod"
		}
		parts = append(parts, fmt.Sprintf("%s %s", role, describePod(&p)))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func describePod(p *corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "Terminating on " + p.Spec.NodeName
	case p.Spec.NodeName == "":
		for _, cnd := range p.Status.Conditions {
			if cnd.Type == corev1.PodScheduled && cnd.Status == corev1.ConditionFalse {
				return "Pending (unschedulable: " + cnd.Message + ")"
			}
		}
		return "Pending"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			return fmt.Sprintf("%s on %s (%s)", cs.State.Waiting.Reason, p.Spec.NodeName, cs.State.Waiting.Message)
		}
	}
	ready := ""
	if sim.PodReady(p) {
		ready = " Ready"
	}
	return fmt.Sprintf("%s%s on %s", p.Status.Phase, ready, p.Spec.NodeName)
}
