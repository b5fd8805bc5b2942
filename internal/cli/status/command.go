package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/internal/cli/kube"
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
	OutputYAML = "yaml"
)

// Options of `irisha status`.
type Options struct {
	Name       string
	Namespace  string
	Kubeconfig string
	Context    string
	Output     string
	Watch      bool
	// WatchFor bounds --watch.
	WatchFor time.Duration
	// Timeout bounds each reading of the cluster.
	Timeout time.Duration

	Out   io.Writer
	Clock clock.PassiveClock
	// Usage reads the volume's usage.
	Usage VolumeUsageReader
	// Client, when set, is used instead of one built from the kubeconfig
	// (tests).
	Client client.WithWatch
}

// NewCommand returns `irisha status`.
func NewCommand(out io.Writer) *cobra.Command {
	o := &Options{Out: out, Clock: clock.RealClock{}, Usage: StatusVolumeUsage{}}
	cmd := &cobra.Command{
		Use:   "status INSTANCE",
		Short: "Show an IrisInstance's health, placement, volume, fencing Lease, last failover, backups and events",
		Long: `Status shows one screen about an IrisInstance: its phase and conditions,
the pod running IRIS with its node and zone, the volume (StorageClass,
requested and actual size; usage where something reports it), the fencing
Lease (holder, last renewal), the last failover step by step with its
seconds, the instance's newest backups and the recent Events of the instance,
its pods and its PVC.

The facts are read one after the other, so they may differ by the time the
reads take. What cannot be read (RBAC, mostly) is listed at the end; the rest
is still shown. Installed on PATH as kubectl-irisha, it is also
'kubectl irisha status'.`,
		Example: `  # The instance iris in the current namespace
  irisha status iris

  # The same, as a kubectl plugin, in another namespace and context
  kubectl irisha status iris -n databases --context prod

  # Redraw whenever the instance, its pods or its Lease change, for 10 minutes
  irisha status iris --watch --watch-for 10m

  # The same facts for scripts
  irisha status iris -o json | jq .lastFailover.seconds`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Namespace, "namespace", "n", "", "namespace of the instance (default: the kubeconfig context's)")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "kubeconfig context to use (default: the current one)")
	f.StringVarP(&o.Output, "output", "o", OutputText, "output format: text, json or yaml")
	f.BoolVarP(&o.Watch, "watch", "w", false, "redraw when the instance, its pods or its Lease change (and every 10 s), until Ctrl-C or --watch-for")
	f.DurationVar(&o.WatchFor, "watch-for", 30*time.Minute, "how long --watch runs at most")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "how long one reading of the cluster may take")
	return cmd
}

// Complete builds the client from the kubeconfig flags and fills the
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
	o.Client, err = f.Client()
	return err
}

// Validate checks the flags.
func (o *Options) Validate() error {
	switch o.Output {
	case OutputText, OutputJSON, OutputYAML:
	default:
		return fmt.Errorf("--output %q: want text, json or yaml", o.Output)
	}
	if o.Watch && o.WatchFor <= 0 {
		return fmt.Errorf("--watch-for %s: want a positive duration", o.WatchFor)
	}
	return nil
}

// Run shows the instance once, or until the watch ends.
func (o *Options) Run(ctx context.Context) error {
	if o.Watch {
		return o.watch(ctx)
	}
	v, err := o.read(ctx)
	if err != nil {
		return err
	}
	return o.print(v)
}

// read gathers a snapshot within the timeout and builds its view.
func (o *Options) read(ctx context.Context) (View, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	s, err := Gather(ctx, o.Client, o.Usage, o.Namespace, o.Name, o.Clock.Now())
	if err != nil {
		return View{}, err
	}
	return Build(s), nil
}

func (o *Options) print(v View) error {
	switch o.Output {
	case OutputJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the status: %w", err)
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	case OutputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding the status: %w", err)
		}
		_, err = o.Out.Write(b)
		return err
	}
	return Text(o.Out, v)
}
