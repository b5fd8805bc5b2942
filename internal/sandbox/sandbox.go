// Package sandbox is `irisha sandbox`: everything irisha does, on this
// machine, with no cluster. It boots the simulated cluster (the real
// Kubernetes control plane, simulated nodes and a simulated replicated
// block store), runs the operator, the node witnesses and an instance on
// the fake IRIS, runs the reference article's failure drills and a backup
// and restore against it with the chaos runner, prints the article's
// fault-domain table with the measured RTO and RPO, writes the HTML
// report, and keeps the cluster up to explore until Ctrl-C.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/chaos"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/testbin"
	"github.com/irisha/irisha/internal/version"
)

// What the sandbox creates.
const (
	Namespace = "sandbox"
	Instance  = "iris"
	// instanceImage is only the spec's image string: nothing is pulled.
	instanceImage = "containers.intersystems.com/intersystems/iris-community:2025.1"
)

// Options of Run.
type Options struct {
	Scenarios []chaos.Scenario
	// CompareReference runs the drills on the reference YAML too.
	CompareReference bool
	// Exit stops the cluster after the report instead of waiting.
	Exit bool
	// ReportDir receives report.{md,json,html}.
	ReportDir string
	// Kubeconfig is where the admin kubeconfig is written.
	Kubeconfig  string
	KeepWorkDir bool
	Out         io.Writer
	Log         logr.Logger

	// ready, if set, is called once the cluster is up (tests).
	ready func(*sim.Cluster)
}

// Result of a sandbox run.
type Result struct {
	Report *chaos.Report
	// ClusterUp is how long booting the cluster took; ToTable how long
	// from the start until the table was printed.
	ClusterUp, ToTable time.Duration
	// W1 is the journal check's verdict on the instance (chaos.W1Held when
	// one IRIS wrote at every moment).
	W1 string
}

// Run does the whole sandbox; it returns once ctx ends (Ctrl-C) or, with
// Exit, after the report. Every process it started is stopped when it
// returns, whatever happened.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	started := time.Now()
	res = &Result{}
	out := o.Out
	step := func(format string, args ...any) {
		fmt.Fprintf(out, "%s  "+format+"\n", append([]any{elapsed(started)}, args...)...)
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}

	step("Checking the control-plane binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)")
	if os.Getenv(testbin.EnvDir) == "" {
		root, err := repoRoot()
		if err != nil {
			return res, err
		}
		if err := ensureControlPlane(ctx, root, out); err != nil {
			return res, err
		}
	}
	if _, err := testbin.Dir(); err != nil {
		return res, fmt.Errorf("%w\n\n%v", err, errNoCheckout)
	}
	step("Building irisha-manager (operator and agent) and the fake IRIS")
	binDir, err := os.MkdirTemp("", "irisha-sandbox-bin-")
	if err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(binDir) }()
	bins, err := simirisha.Build(binDir)
	if err != nil {
		return res, err
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	step("Booting the simulated cluster: 3 nodes in 3 zones, Kubernetes' default timings")
	bootStarted := time.Now()
	var ref *referenceSetup
	runnerOpts := simirisha.RunnerOptions{}
	if o.CompareReference {
		ref = &referenceSetup{bins: bins}
		runnerOpts.Other = ref.runContainer
	}
	c, err := sim.Start(ctx, sim.Options{Nodes: 3, Timings: sim.DefaultTimings(), KeepWorkDir: o.KeepWorkDir,
		Runner: simirisha.Runner(bins, runnerOpts), Log: o.Log})
	if err != nil {
		return res, fmt.Errorf("starting the simulated cluster: %w", err)
	}
	defer func() {
		step("Stopping the simulated cluster")
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the simulated cluster: %w", stopErr))
		}
		if o.Kubeconfig != "" {
			_ = os.Remove(o.Kubeconfig)
		}
		fmt.Fprintln(out, "Stopped; every process the sandbox started is gone.")
	}()
	if o.Kubeconfig != "" {
		if err := c.WriteKubeconfig(o.Kubeconfig); err != nil {
			return res, err
		}
	}
	if err := simirisha.StartWitnesses(ctx, c); err != nil {
		return res, err
	}
	if _, err := simirisha.StartOperator(ctx, c, bins, simirisha.OperatorOptions{
		Args: []string{"--witness-namespace=" + simirisha.WitnessNamespace}}); err != nil {
		return res, err
	}
	res.ClusterUp = time.Since(bootStarted)
	step("Cluster up in %s: operator and node witnesses running", res.ClusterUp.Round(100*time.Millisecond))
	if o.ready != nil {
		o.ready(c)
	}

	cl, err := newClient(c)
	if err != nil {
		return res, err
	}
	step("Creating IrisInstance %s/%s (class %s, failover mode Lease) and waiting until it is Ready", Namespace, Instance, sim.LonghornClass)
	if err := createInstance(ctx, c, cl); err != nil {
		return res, err
	}

	rep := &chaos.Report{Cluster: "simulated (irisha sandbox)", Namespace: Namespace, Instance: Instance,
		Started: started.UTC(), Version: version.String(), Writer: simWriter, Journal: simJournal,
		Timings: describeTimings(c.Timings())}
	progress := func(line string) { step("%s", line) }
	irishaResults, err := chaos.Run(ctx, chaos.Options{
		Target: chaos.Target{Namespace: Namespace, Instance: Instance, Container: resources.ContainerName,
			Selector: labels.SelectorFromSet(map[string]string{resources.LabelIrisInstance: Instance})},
		Scenarios: o.Scenarios, Clientset: c.Clientset(), Client: cl, Exec: c, Nodes: sim.NodeFaults{C: c},
		Progress: progress, Log: o.Log,
	})
	if err != nil {
		return res, err
	}
	res.W1 = checkW1(ctx, c)
	rep.Setups = append(rep.Setups, chaos.Setup{Name: "irisha", Description: "IrisInstance, operator, agent and node witnesses", Results: irishaResults, W1: res.W1})
	if o.CompareReference {
		step("Deploying the reference YAML (namespace %s) for the same drills; its node-loss drills wait out Kubernetes' 300 s tolerations and more", referenceNamespace)
		refResults, err := ref.run(ctx, c, withoutBackup(o.Scenarios), progress)
		if err != nil {
			return res, err
		}
		rep.Setups = append(rep.Setups, chaos.Setup{Name: "reference", Description: "the article's Deployment, unchanged", Results: refResults, W1: ref.w1()})
	}
	res.Report = rep
	res.ToTable = time.Since(started)
	fmt.Fprintln(out)
	if err := chaos.Table(out, rep); err != nil {
		return res, err
	}
	for _, s := range rep.Setups {
		switch s.W1 {
		case chaos.W1Held:
			fmt.Fprintf(out, "W1 (one writer), %s: the fake IRIS's journal shows one writer at every moment.\n", s.Name)
		case "":
		default:
			fmt.Fprintf(out, "W1 VIOLATED, %s: %s\n", s.Name, s.W1)
		}
	}
	if err := chaos.WriteReports(o.ReportDir, rep); err != nil {
		return res, err
	}
	abs, _ := filepath.Abs(filepath.Join(o.ReportDir, "report.html"))
	fmt.Fprintf(out, "\nReport: %s (also report.md and report.json beside it)\nTable reached in %s.\n", abs, res.ToTable.Round(time.Second))

	if o.Exit {
		return res, failedOf(rep, res.W1)
	}
	printExplore(out, o.Kubeconfig)
	<-ctx.Done()
	return res, failedOf(rep, res.W1)
}

// The sandbox's writer and journal, as the report states them.
const (
	simWriter = "one row per `iris session IRIS -U USER` in the IRIS container, run through the simulated kubelet (as kubectl exec)"
	// The fake IRIS writes and fsyncs each row before it answers.
	simJournal = "the fake IRIS writes and fsyncs every row before it acknowledges it, as IRIS does with [Miscellaneous] SynchCommit=1"
)

func describeTimings(t sim.Timings) string {
	return fmt.Sprintf("Kubernetes' defaults: node-monitor-grace-period %s, default tolerations %d s; fencing Lease 10 s", t.NodeMonitorGracePeriod, t.DefaultTolerationSeconds)
}

func newClient(c *sim.Cluster) (client.Client, error) {
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	return client.New(c.RESTConfig(), client.Options{Scheme: scheme})
}

func createInstance(ctx context.Context, c *sim.Cluster, cl client.Client) error {
	if err := c.CreateNamespace(ctx, Namespace); err != nil {
		return err
	}
	inst := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: Instance},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    instanceImage,
			Storage:  v1alpha1.StorageSpec{ClassName: ptr.To(sim.LonghornClass), Size: resource.MustParse("1Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: v1alpha1.FailoverLease, LeaseDurationSeconds: 10},
		},
	}
	if err := cl.Create(ctx, inst); err != nil {
		return fmt.Errorf("creating IrisInstance %s/%s: %w", Namespace, Instance, err)
	}
	return nil
}

// checkW1 reads the instance's fake IRIS journal: chaos.W1Held if one IRIS
// wrote at every moment, else what the check found.
func checkW1(ctx context.Context, c *sim.Cluster) string {
	inst := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: Instance}}
	dir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		return fmt.Sprintf("the journal could not be read: %v", err)
	}
	return journalVerdict(dir)
}

// journalVerdict is the fake IRIS journal's single-writer check on dataDir.
func journalVerdict(dataDir string) string {
	if _, err := simirisha.CheckJournal(dataDir); err != nil {
		return err.Error()
	}
	return chaos.W1Held
}

func withoutBackup(ss []chaos.Scenario) []chaos.Scenario {
	var out []chaos.Scenario
	for _, s := range ss {
		if s != chaos.BackupRestore {
			out = append(out, s)
		}
	}
	return out
}

// failedOf is the sandbox's verdict: irisha's drills only (the reference
// is expected to fail some).
func failedOf(rep *chaos.Report, w1 string) error {
	irisha := &chaos.Report{Setups: rep.Setups[:1]}
	err := chaos.Failed(irisha)
	if w1 != chaos.W1Held {
		err = errors.Join(err, fmt.Errorf("W1 violated: %s", w1))
	}
	return err
}

func printExplore(out io.Writer, kubeconfig string) {
	fmt.Fprintf(out, `
The simulated cluster stays up to explore. In another terminal:

  export KUBECONFIG=%s
  kubectl get nodes -L topology.kubernetes.io/zone
  kubectl -n %s get irisinstances,pods,pvc,irisbackups,volumesnapshots
  go run ./cmd/irisha status %s -n %s
  go run ./cmd/irisha backup create %s -n %s --wait

Press Ctrl-C to stop.
`, kubeconfig, Namespace, Instance, Namespace, Instance, Namespace)
}

func elapsed(since time.Time) string {
	d := time.Since(since).Round(time.Second)
	return fmt.Sprintf("[%02d:%02d]", int(d.Minutes()), int(d.Seconds())%60)
}
