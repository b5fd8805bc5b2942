// Package chaos is `irisha chaos run`: the reference article's failure
// drills against an IrisInstance of any cluster, with an RTO/RPO report.
package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/chaos"
	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/version"
)

// RunOptions of `irisha chaos run`.
type RunOptions struct {
	Instance         string
	Scenarios        string
	NodeFaultCommand string
	OutputDir        string
	Output           string
	RecoveryTimeout  time.Duration
	WriteInterval    time.Duration
	Settle           time.Duration
	// Execer and NodeFaults replace kubectl exec and --node-fault-command
	// when set: the simulated cluster has its own (tests).
	Execer     chaos.Execer
	NodeFaults chaos.NodeFaults

	out, errOut io.Writer
}

// NewRunOptions returns options printing to out and errOut, with the
// flags' defaults.
func NewRunOptions(out, errOut io.Writer) *RunOptions {
	return &RunOptions{Scenarios: defaultScenarios, Output: "table", RecoveryTimeout: chaos.DefaultRecoveryTimeout,
		WriteInterval: chaos.DefaultWriteInterval, Settle: chaos.DefaultSettle, out: out, errOut: errOut}
}

// defaultScenarios are the drills the API can do by itself.
const defaultScenarios = "iris-stop,pod-delete,drain"

// NewCommand returns `irisha chaos` with its `run` verb.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Break an IrisInstance the ways the reference article does, and measure RTO and RPO",
	}
	cmd.AddCommand(newRunCommand(out, errOut))
	return cmd
}

func newRunCommand(out, errOut io.Writer) *cobra.Command {
	flags := &kube.Flags{Warnings: errOut}
	o := NewRunOptions(out, errOut)
	cmd := &cobra.Command{
		Use:   "run --instance NAME",
		Short: "Run failure drills against an IrisInstance and report RTO and RPO",
		Long: `Run runs the drills one after the other against the IrisInstance. Before,
during and after each, a writer appends numbered rows to IRIS, one
transaction per row, through ` + "`iris session IRIS -U USER`" + ` in the IRIS
container (kubectl exec; it needs pods/exec), and records which IRIS
acknowledged. RTO is the time from the fault to the first row acknowledged
after the outage began; RPO is the acknowledged rows missing once the
instance has recovered (IRIS's journal settings, which bound it, are shown
beside it). Rows go to the global ^irishaChaos in the USER namespace.

Drills:
  iris-stop       iris stop IRIS quietly inside the container
  pod-delete      the pod deleted
  drain           the node drained (cordoned, every pod but DaemonSets'
                  evicted), uncordoned after
  node-kill       the node powered off, through --node-fault-command
  node-partition  the node cut off the network, through --node-fault-command
  backup-restore  an IrisBackup while rows are written, restored into a
                  clone that must hold every row acknowledged before the
                  freeze (the clone is deleted after, the backup kept)

Kubernetes cannot kill or cut off a node: node-kill and node-partition run
--node-fault-command, a Go template rendered with .Action (kill, partition
or heal) and .Node, by sh -c. Heal runs after the drill to put the node back.

Every wait has a cap (--recovery-timeout): a drill that does not recover is
reported so and the next one runs. The reports (Markdown, JSON, and an HTML
page with a timeline per drill) are written to --output-dir. Ctrl-C stops
the drills, undoes the fault in progress and writes what was measured.`,
		Example: `  # The drills the API can do itself
  irisha chaos run --instance iris --scenarios iris-stop,pod-delete,drain

  # Node loss on GKE: stop the VM, start it again afterwards
  irisha chaos run --instance iris -n prod --scenarios node-kill \
    --node-fault-command 'gcloud compute instances {{if eq .Action "heal"}}start{{else}}stop{{end}} {{.Node}} --zone europe-west1-b'

  # Every drill, reports in ./chaos, JSON on standard output
  irisha chaos run --instance iris --scenarios all --node-fault-command './faults.sh {{.Action}} {{.Node}}' --output-dir chaos -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.Run(ctx, flags)
		},
	}
	flags.AddTo(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&o.Instance, "instance", "", "the IrisInstance to break (required)")
	f.StringVar(&o.Scenarios, "scenarios", defaultScenarios, "comma-separated drills, or all: iris-stop, pod-delete, drain, node-kill, node-partition, backup-restore")
	f.StringVar(&o.NodeFaultCommand, "node-fault-command", "", "command template for node-kill and node-partition: .Action is kill, partition or heal, .Node the node")
	f.StringVar(&o.OutputDir, "output-dir", "", "where to write report.md, report.json and report.html (default chaos-INSTANCE-<UTC time>)")
	f.StringVarP(&o.Output, "output", "o", "table", "what to print: table or json")
	f.DurationVar(&o.RecoveryTimeout, "recovery-timeout", chaos.DefaultRecoveryTimeout, "cap on each drill's wait for recovery")
	f.DurationVar(&o.WriteInterval, "write-interval", chaos.DefaultWriteInterval, "time between write attempts (the RTO's resolution)")
	f.DurationVar(&o.Settle, "settle", chaos.DefaultSettle, "writing goes on this long after recovery and after the fault is undone")
	return cmd
}

// Validate checks what can be checked without the cluster.
func (o *RunOptions) Validate() ([]chaos.Scenario, chaos.NodeFaults, error) {
	if o.Instance == "" {
		return nil, nil, fmt.Errorf("give the IrisInstance to break: --instance NAME")
	}
	if o.Output != "table" && o.Output != "json" {
		return nil, nil, fmt.Errorf("-o %q: want table or json", o.Output)
	}
	if o.RecoveryTimeout <= 0 || o.WriteInterval <= 0 || o.Settle < 0 {
		return nil, nil, fmt.Errorf("--recovery-timeout and --write-interval must be positive, --settle not negative")
	}
	scenarios, err := chaos.ParseScenarios(o.Scenarios)
	if err != nil {
		return nil, nil, err
	}
	faults := o.NodeFaults
	if o.NodeFaultCommand != "" {
		cf, err := chaos.NewCommandFaults(o.NodeFaultCommand)
		if err != nil {
			return nil, nil, err
		}
		faults = cf
	}
	return scenarios, faults, nil
}

// Run connects, runs the drills and writes the reports.
func (o *RunOptions) Run(ctx context.Context, flags *kube.Flags) error {
	scenarios, faults, err := o.Validate()
	if err != nil {
		return err
	}
	c, ns, err := flags.Connect()
	if err != nil {
		return err
	}
	cfg, err := flags.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	inst := &v1alpha1.IrisInstance{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.Instance}, inst); err != nil {
		return fmt.Errorf("reading IrisInstance %s/%s: %w", ns, o.Instance, err)
	}
	var exec chaos.Execer = o.Execer
	if exec == nil {
		if exec, err = kube.NewExecer(cfg); err != nil {
			return err
		}
	}
	clusterName := flags.ContextName()
	rep := &chaos.Report{
		Cluster: clusterName, Namespace: ns, Instance: o.Instance, Started: time.Now().UTC(), Version: version.String(),
		Writer: chaos.WriterOverExec,
	}
	results, runErr := chaos.Run(ctx, chaos.Options{
		Target: chaos.Target{Namespace: ns, Instance: o.Instance, Container: resources.ContainerName,
			Selector: labels.SelectorFromSet(resources.SelectorLabels(inst))},
		Scenarios: scenarios, Clientset: cs, Client: c, Exec: exec, Nodes: faults,
		WriteInterval: o.WriteInterval, RecoveryTimeout: o.RecoveryTimeout, Settle: o.Settle,
		Progress: func(line string) { fmt.Fprintln(o.errOut, line) },
	})
	rep.Setups = []chaos.Setup{{Name: "irisha", Results: results}}
	// Read once the drills ran: an instance created just before has its
	// merge Secret only once the operator made it.
	rep.Journal = chaos.JournalSettings(context.WithoutCancel(ctx), c, ns, o.Instance)
	dir := o.OutputDir
	if dir == "" {
		dir = fmt.Sprintf("chaos-%s-%s", o.Instance, rep.Started.Format("20060102T150405Z"))
	}
	if err := chaos.WriteReports(dir, rep); err != nil {
		return err
	}
	if o.Output == "json" {
		if err := chaos.JSON(o.out, rep); err != nil {
			return err
		}
	} else if err := chaos.Table(o.out, rep); err != nil {
		return err
	}
	fmt.Fprintf(o.errOut, "Reports: %s\n", filepath.Join(dir, "report.{md,json,html}"))
	if runErr != nil {
		return fmt.Errorf("drills stopped: %w", runErr)
	}
	return chaos.Failed(rep)
}
