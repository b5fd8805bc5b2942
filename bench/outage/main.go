// Command outage is the control-plane outage benchmark: the API server out
// of reach of every node and of the operator for 30 s and for 120 s, and
// answering 2 s late for 60 s, each on the reference deployment (class
// longhorn) and on irisha (the real operator, agents and node witnesses,
// the fake IRIS, a 10 s fencing Lease), side by side in one run, each run in
// a fresh simulated cluster with Kubernetes' default timings, and on irisha
// without the witnesses for comparison. Per (setup,
// scenario) it prints how many instances had IRIS stopped (restarted or
// replaced), how many failed over, how many nodes were left cordoned, and
// W1 violations (irisha's journal), as a Markdown table.
//
//	go run ./bench/outage [-v] [-runs 5] [-latency-runs 3] [-instances 2]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/stdr"
	"golang.org/x/sync/semaphore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/reference"
)

const (
	setupReference = "reference"
	setupIrisha    = "irisha"
	// setupBare is irisha without the node witnesses: its agents stop
	// IRIS whenever they cannot renew (the behaviour before them).
	setupBare = "irisha-without-witnesses"

	outage30  = "outage-30s"
	outage120 = "outage-120s"
	latency   = "latency-2s-60s"

	leaseSeconds = 10
	// settle: after the fault ends, long enough for any failover it
	// caused (a Lease, the skew margin, the fencing and the replacement's
	// start) and for the nodes to be given back.
	settle = 45 * time.Second
)

type scenario struct {
	name  string
	fault func(ctx context.Context, c *sim.Cluster) error
}

var scenarios = []scenario{
	{outage30, cut(30 * time.Second)},
	{outage120, cut(120 * time.Second)},
	{latency, slow(2*time.Second, 60*time.Second)},
}

func cut(d time.Duration) func(context.Context, *sim.Cluster) error {
	return func(ctx context.Context, c *sim.Cluster) error {
		c.CutAPIServer()
		defer c.HealAPIServer()
		return sleep(ctx, d)
	}
}

func slow(extra, d time.Duration) func(context.Context, *sim.Cluster) error {
	return func(ctx context.Context, c *sim.Cluster) error {
		c.SetAPILatency(extra)
		defer c.SetAPILatency(0)
		return sleep(ctx, d)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// result of one run.
type result struct {
	setup, scenario string
	instances       int
	// stopped: IRIS restarted or its pod replaced.
	stopped, failovers, cordoned, w1 int
	err                              string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "outage:", err)
		os.Exit(1)
	}
}

func run() error {
	runs := flag.Int("runs", 5, "runs of each outage scenario per setup")
	latencyRuns := flag.Int("latency-runs", 3, "runs of the latency scenario per setup")
	instances := flag.Int("instances", 2, "instances per cluster")
	baselineRuns := flag.Int("baseline-runs", 2, "runs of each scenario for irisha without the node witnesses")
	parallel := flag.Int("parallel", 3, "clusters at once")
	only := flag.String("scenarios", "", "comma-separated scenarios to run (default all: "+outage30+","+outage120+","+latency+")")
	verbose := flag.Bool("v", false, "log progress to stderr")
	flag.Parse()
	log := logr.Discard()
	if *verbose {
		log = stdr.New(nil)
	}
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "outage-bin-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	bins, err := simirisha.Build(dir)
	if err != nil {
		return err
	}
	type job struct {
		setup string
		sc    scenario
	}
	var jobs []job
	for _, sc := range scenarios {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), sc.name) {
			continue
		}
		n := *runs
		if sc.name == latency {
			n = *latencyRuns
		}
		for r := range n {
			for _, setup := range []string{setupIrisha, setupReference, setupBare} {
				if setup != setupBare || r < *baselineRuns {
					jobs = append(jobs, job{setup, sc})
				}
			}
		}
	}
	started := time.Now()
	results := make([]result, len(jobs))
	sem := semaphore.NewWeighted(int64(*parallel))
	var wg sync.WaitGroup
	for i, j := range jobs {
		if err := sem.Acquire(ctx, 1); err != nil {
			break
		}
		wg.Go(func() {
			defer sem.Release(1)
			results[i] = runOne(ctx, bins, j.setup, j.sc, *instances, log.WithValues("setup", j.setup, "scenario", j.sc.name))
			log.Info("Run finished", "done", fmt.Sprintf("%d/%d", i+1, len(jobs)), "result", fmt.Sprintf("%+v", results[i]))
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Print(markdown(results, time.Since(started)))
	return nil
}

func runOne(ctx context.Context, bins simirisha.Binaries, setup string, sc scenario, instances int, log logr.Logger) (res result) {
	res = result{setup: setup, scenario: sc.name, instances: instances}
	fail := func(err error) result { res.err = err.Error(); return res }
	bootCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	irisha := setup != setupReference
	opts := sim.Options{Nodes: 3, Timings: sim.DefaultTimings(), Log: log}
	if irisha {
		opts.Runner = simirisha.Runner(bins, simirisha.RunnerOptions{})
	}
	c, err := sim.Start(bootCtx, opts)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = c.Stop() }()
	scheme, err := operator.NewScheme()
	if err != nil {
		return fail(err)
	}
	cl, err := client.New(c.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		return fail(err)
	}
	if irisha {
		var opts simirisha.OperatorOptions
		if setup == setupIrisha {
			if err := simirisha.StartWitnesses(bootCtx, c); err != nil {
				return fail(err)
			}
			opts.Args = []string{"--witness-namespace=" + simirisha.WitnessNamespace}
		}
		if _, err := simirisha.StartOperator(bootCtx, c, bins, opts); err != nil {
			return fail(err)
		}
	}
	selector := reference.Selector
	if irisha {
		selector = resources.LabelIrisInstance + "=iris"
	}
	before := map[string]corev1.Pod{}
	for i := range instances {
		ns := fmt.Sprintf("bench-%d", i+1)
		if err := c.CreateNamespace(bootCtx, ns); err != nil {
			return fail(err)
		}
		if irisha {
			err = cl.Create(bootCtx, instance(ns))
		} else {
			var manifests []byte
			if manifests, err = reference.WithStorageClass(sim.LonghornClass); err == nil {
				err = c.Create(bootCtx, ns, manifests)
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	for i := range instances {
		ns := fmt.Sprintf("bench-%d", i+1)
		pods, err := sim.WaitForPods(bootCtx, c.Clientset(), ns, selector, func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) })
		if err != nil {
			return fail(fmt.Errorf("waiting for the pod in %s: %w", ns, err))
		}
		before[ns] = pods[0]
	}
	if irisha {
		// Every agent has read the witnesses (it does at its start, and
		// every 10 s).
		if err := sleep(ctx, 12*time.Second); err != nil {
			return fail(err)
		}
	}
	log.Info("Injecting the fault")
	if err := sc.fault(ctx, c); err != nil {
		return fail(err)
	}
	if err := sleep(ctx, settle); err != nil {
		return fail(err)
	}
	checkCtx := context.WithoutCancel(ctx)
	for ns, old := range before {
		pods, err := c.Clientset().CoreV1().Pods(ns).List(checkCtx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fail(err)
		}
		replaced := len(pods.Items) != 1 || pods.Items[0].UID != old.UID
		stopped := replaced || restarts(&pods.Items[0]) > restarts(&old) // replaced, or one pod
		if !irisha {
			if replaced {
				res.failovers++
			}
			if stopped {
				res.stopped++
			}
			continue
		}
		inst := &v1alpha1.IrisInstance{}
		if err := cl.Get(checkCtx, client.ObjectKey{Namespace: ns, Name: "iris"}, inst); err != nil {
			return fail(err)
		}
		res.failovers += int(inst.Status.Failovers)
		dir, err := simirisha.DataDir(checkCtx, c, inst)
		if err != nil {
			return fail(err)
		}
		entries, err := simirisha.CheckJournal(dir)
		switch {
		case err != nil && entries == nil:
			return fail(err)
		case err != nil:
			res.w1++
		}
		// A self-fence kills IRIS; its restart is a second writer.
		if stopped || len(simirisha.Writers(entries)) > 1 {
			res.stopped++
		}
	}
	nodes := &corev1.NodeList{}
	if err := cl.List(checkCtx, nodes); err != nil {
		return fail(err)
	}
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			res.cordoned++
		}
	}
	return res
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

func instance(ns string) *v1alpha1.IrisInstance {
	return &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris"},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage:  v1alpha1.StorageSpec{ClassName: ptr.To(sim.LonghornClass), Size: resource.MustParse("1Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: v1alpha1.FailoverLease, LeaseDurationSeconds: leaseSeconds},
		},
	}
}

func markdown(results []result, wall time.Duration) string {
	type key struct{ setup, scenario string }
	type row struct {
		runs, instances, stopped, failovers, cordoned, w1 int
		errs                                              []string
	}
	rows := map[key]*row{}
	for _, r := range results {
		k := key{r.setup, r.scenario}
		if rows[k] == nil {
			rows[k] = &row{}
		}
		x := rows[k]
		x.runs++
		if r.err != "" {
			x.errs = append(x.errs, r.err)
			continue
		}
		x.instances += r.instances
		x.stopped += r.stopped
		x.failovers += r.failovers
		x.cordoned += r.cordoned
		x.w1 += r.w1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Timings: Kubernetes defaults; irisha's fencing Lease %d s, with node witnesses. **Control-plane time.** A fault is the API server cut off from every node and the operator (its own processes keep running), or every request to it answered 2 s late; counted %s after it ends.\n\n", leaseSeconds, settle)
	b.WriteString("| Setup | Scenario | Runs | Instances | IRIS stopped (restarted or replaced) | Failovers | Nodes left cordoned | W1 violations | Errors |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, sc := range scenarios {
		for _, setup := range []string{setupReference, setupIrisha, setupBare} {
			x := rows[key{setup, sc.name}]
			if x == nil {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %s |\n", setup, sc.name, x.runs, x.instances, x.stopped, x.failovers, x.cordoned, x.w1, strings.Join(x.errs, "; "))
		}
	}
	fmt.Fprintf(&b, "\nWall time %s.\n", wall.Round(time.Second))
	return b.String()
}
