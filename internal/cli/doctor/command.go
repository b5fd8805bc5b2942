package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/fsbench"
	"github.com/irisha/irisha/internal/version"
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// ErrFindings is returned (wrapped) when the report has errors, so the
// command exits non-zero after printing it.
var ErrFindings = errors.New("the cluster is not fit for irisha")

// Options of `irisha doctor`.
type Options struct {
	Instance   string
	Namespace  string
	Kubeconfig string
	Context    string
	Output     string
	// Timeout bounds the reading of the cluster.
	Timeout time.Duration

	BenchStorage bool
	BenchClass   string
	BenchImage   string
	BenchWrites  int
	BenchTimeout time.Duration

	Out, ErrOut io.Writer
	Clock       clock.PassiveClock
	// Client, Discovery and Server, when Client is set, are used instead
	// of those built from the kubeconfig (tests).
	Client    client.Client
	Discovery discovery.DiscoveryInterface
	Server    string
}

// NewCommand returns `irisha doctor`.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	o := &Options{Out: out, ErrOut: errOut, Clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that a cluster can run IRIS highly available with irisha",
		Long: `Doctor checks the cluster of the current kubeconfig and reports each finding
as ok, warning or error, with what it breaks and how to fix it:

  - 3 or more schedulable nodes, in 2 or more zones (topology.kubernetes.io/zone);
  - the StorageClass replicates across nodes: Longhorn (driver.longhorn.io) with
    numberOfReplicas 2 or more, or another driver known to replicate (Portworx,
    Rook-Ceph, OpenEBS Mayastor, GKE regional-pd, Azure ZRS); a node-local
    class (local-path, a class whose PVs are pinned to one node) is an error:
    after a node loss its volume cannot follow IRIS ("volume node affinity
    conflict"); an unknown driver is a warning, to check by hand;
  - allowVolumeExpansion, and irisha.dev/volume-expansion: offline;
  - the VolumeSnapshot API, a snapshot controller, a default VolumeSnapshotClass
    for the driver (for Longhorn, its type: snap or bak);
  - Longhorn's settings that matter for failover and backups, when Longhorn runs;
  - the out-of-service taint (Kubernetes 1.28 and later), which failover mode
    NodeShutdown uses;
  - irisha's CRDs and a running operator;
  - with --instance, the instance's phase and conditions.

The classes checked are the instance's with --instance, otherwise the default
class and every class an IrisInstance uses. Doctor only reads, except with
--bench-storage: then it creates a scratch claim on the class (--class, else
the instance's or the default) and a pod that times 1000 appends of 4 KiB,
each followed by fsync, the way a journal commits, and reports p50/p90/p99;
it does the same on a node-local class, if there is one, for comparison.
The pod runs the irisha image (the hidden 'irisha-manager fsbench'); the
claim and the pod are deleted at the end, on failure and on Ctrl-C.

The exit status is 1 when any finding is an error.`,
		Example: `  # Before installing: is this cluster fit for irisha?
  irisha doctor

  # One instance: its class, its operator, its phase
  irisha doctor --instance iris -n databases

  # For scripts: the findings as JSON, errors only
  irisha doctor -o json | jq '.findings[] | select(.severity == "error")'

  # Measure fsync latency on the class longhorn (and on a node-local class)
  irisha doctor --bench-storage --class longhorn -n scratch

  # As a kubectl plugin
  kubectl irisha doctor --context prod`,
		Args: cobra.NoArgs,
		// Findings that are errors fail the command after the report:
		// no usage, and the caller (main) prints the error once.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Instance, "instance", "", "check this IrisInstance (in --namespace) and its StorageClass")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "namespace of --instance and of the bench's scratch objects (default: the kubeconfig context's)")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "kubeconfig context to use (default: the current one)")
	f.StringVarP(&o.Output, "output", "o", OutputText, "output format: text or json")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "how long reading the cluster may take")
	f.BoolVar(&o.BenchStorage, "bench-storage", false, "measure synchronous small-write latency on a scratch volume (creates, then deletes, a claim and a pod)")
	f.StringVar(&o.BenchClass, "class", "", "StorageClass to bench (default: the instance's, else the default class)")
	f.StringVar(&o.BenchImage, "bench-image", version.DefaultImage(), "irisha-manager image the bench pod runs")
	f.IntVar(&o.BenchWrites, "bench-writes", fsbench.DefaultWrites, "appends the bench times")
	f.DurationVar(&o.BenchTimeout, "bench-timeout", 5*time.Minute, "how long one class's bench may take, from the claim to the result")
	return cmd
}

// Validate checks the flags.
func (o *Options) Validate() error {
	switch o.Output {
	case OutputText, OutputJSON:
	default:
		return fmt.Errorf("--output %q: want text or json", o.Output)
	}
	if o.BenchClass != "" && !o.BenchStorage {
		return errors.New("--class goes with --bench-storage")
	}
	if o.BenchStorage && (o.BenchWrites <= 0 || o.BenchTimeout <= 0) {
		return errors.New("--bench-writes and --bench-timeout must be positive")
	}
	return nil
}

// Complete builds the clients from the kubeconfig flags and fills the
// namespace from the context.
func (o *Options) Complete() error {
	f := kube.Flags{Kubeconfig: o.Kubeconfig, Context: o.Context, Namespace: o.Namespace}
	ns, err := f.ResolveNamespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	if o.Client != nil {
		return nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return err
	}
	if o.Client, err = f.Client(); err != nil {
		return err
	}
	if o.Discovery, err = discovery.NewDiscoveryClientForConfig(cfg); err != nil {
		return fmt.Errorf("creating a discovery client for %s: %w", cfg.Host, err)
	}
	o.Server = cfg.Host
	return nil
}

// Run reads the cluster, runs the rules, benches if asked, prints the
// report and fails when it holds an error.
func (o *Options) Run(ctx context.Context) error {
	readCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	s, err := Gather(readCtx, o.Client, o.Discovery, o.Server, o.Namespace, o.Instance, o.Clock.Now())
	cancel()
	if err != nil {
		return err
	}
	r := Evaluate(s, Rules)
	if o.BenchStorage {
		if err := o.bench(ctx, s, &r); err != nil {
			return err
		}
	}
	if err := o.print(r); err != nil {
		return err
	}
	if r.Summary.Errors > 0 {
		return fmt.Errorf("%w: %s", ErrFindings, plural(r.Summary.Errors, "error"))
	}
	return nil
}

// bench runs the storage bench on each class in turn; a bench that does
// not finish is a warning of the report.
func (o *Options) bench(ctx context.Context, s *Snapshot, r *Report) error {
	classes, err := BenchClasses(s, o.BenchClass)
	if err != nil {
		return err
	}
	b := &Bencher{Client: o.Client, Namespace: o.Namespace, Image: o.BenchImage, Writes: o.BenchWrites,
		Timeout: o.BenchTimeout, Poll: time.Second, Progress: o.ErrOut, Now: o.Clock.Now}
	for _, sc := range classes {
		res := b.Run(ctx, sc, Classify(sc, s.PersistentVolumes, s.Longhorn).Replication)
		r.Bench = append(r.Bench, res)
		if res.Error != "" {
			r.Findings = append(r.Findings, Finding{Check: "storage.bench", Area: AreaStorage, Subject: "storageclass/" + sc.Name,
				Severity: Warning, Summary: "the storage bench on " + sc.Name + " did not finish: " + res.Error,
				Breaks: "no latency figures for this class",
				Fix:    "check that the pod can pull " + o.BenchImage + " (or pass --bench-image) and that the class provisions in namespace " + o.Namespace})
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.tidy()
	return nil
}

func (o *Options) print(r Report) error {
	if o.Output == OutputJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	}
	return Text(o.Out, r)
}
