// Package sim is `irisha sim`: it boots the simulated cluster (a real
// control plane, kwok nodes, a simulated Longhorn-like block store) on this
// machine and keeps it up until interrupted.
package sim

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/stdr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	simcluster "github.com/irisha/irisha/internal/sim"
)

// bootTimeout bounds booting the cluster.
const bootTimeout = 5 * time.Minute

// UpOptions of `irisha sim up`.
type UpOptions struct {
	Nodes       int
	Zones       []string
	FastTimings bool
	Kubeconfig  string
	KeepWorkDir bool
	WorkDir     string
	Verbose     bool
	Out         io.Writer

	// ready, if set, is called with the running cluster (tests).
	ready func(*simcluster.Cluster)
}

// NewCommand returns `irisha sim` with its `up` verb.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated Kubernetes cluster on this machine",
		Long: `The simulated cluster runs the real Kubernetes control plane (etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, from bin/testbin) with
simulated nodes (kwok heartbeats and a simulated kubelet) and a simulated
replicated block store (CSI driver driver.longhorn.io, StorageClasses longhorn
and local-disk, VolumeSnapshotClass longhorn). Only kubelets and storage are
simulated: the real controllers decide, with their real timings.`,
	}
	cmd.AddCommand(newUpCommand())
	return cmd
}

func newUpCommand() *cobra.Command {
	o := &UpOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Boot a simulated cluster and keep it up until Ctrl-C",
		Long: `Up boots a simulated cluster, writes an admin kubeconfig, prints how to use it
and waits. Ctrl-C (or SIGTERM) stops every process it started and removes its
work directory. Timings are Kubernetes' defaults (node-monitor-grace-period
50s, default tolerations 300s) unless --fast-timings.`,
		Example: `  # Three nodes in three zones with Kubernetes' default timings
  irisha sim up

  # Shortened timings (a dead node is NotReady after ~5s, evicted 2s later)
  irisha sim up --nodes 3 --fast-timings --kubeconfig ./sim.kubeconfig

  # In another terminal
  export KUBECONFIG=./sim.kubeconfig
  kubectl get nodes -L topology.kubernetes.io/zone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			if err := o.Validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", 3, "number of simulated nodes")
	f.StringSliceVar(&o.Zones, "zones", []string{"zone-a", "zone-b", "zone-c"}, "zones, assigned to nodes round-robin (label topology.kubernetes.io/zone)")
	f.BoolVar(&o.FastTimings, "fast-timings", false, "shortened node-failure timings instead of Kubernetes' defaults")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "sim.kubeconfig", "where to write the admin kubeconfig")
	f.StringVar(&o.WorkDir, "work-dir", "", "parent of the cluster's temporary directory (default: the system temp dir)")
	f.BoolVar(&o.KeepWorkDir, "keep-work-dir", false, "keep logs and etcd data after stopping")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "log what the sim does")
	return cmd
}

// Validate checks the options.
func (o *UpOptions) Validate() error {
	if o.Nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, got %d", o.Nodes)
	}
	if len(o.Zones) == 0 {
		return fmt.Errorf("--zones must name at least one zone")
	}
	if o.Kubeconfig == "" {
		return fmt.Errorf("--kubeconfig must not be empty")
	}
	return nil
}

// Run boots the cluster, prints how to use it, and stops it when ctx ends.
func (o *UpOptions) Run(ctx context.Context) error {
	log := logr.Discard()
	if o.Verbose {
		log = stdr.New(nil)
	}
	// controller-runtime and klog are global; route them where the user
	// asked (nowhere unless -v), or they print warnings and shutdown noise.
	ctrllog.SetLogger(log)
	klog.SetLogger(log)
	timings := simcluster.DefaultTimings()
	if o.FastTimings {
		timings = simcluster.FastTimings()
	}
	bootCtx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	c, err := simcluster.Start(bootCtx, simcluster.Options{
		Nodes: o.Nodes, Zones: o.Zones, Timings: timings, WorkDir: o.WorkDir, KeepWorkDir: o.KeepWorkDir, Log: log,
	})
	if err != nil {
		return fmt.Errorf("starting the simulated cluster: %w", err)
	}
	stopErr := func() error {
		if err := c.Stop(); err != nil {
			return fmt.Errorf("stopping the simulated cluster: %w", err)
		}
		return nil
	}
	kubeconfig, err := filepath.Abs(o.Kubeconfig)
	if err != nil {
		_ = stopErr()
		return fmt.Errorf("resolving %s: %w", o.Kubeconfig, err)
	}
	if err := c.WriteKubeconfig(kubeconfig); err != nil {
		_ = stopErr()
		return err
	}
	o.printUsage(c, kubeconfig, timings)
	if o.ready != nil {
		o.ready(c)
	}
	<-ctx.Done()
	fmt.Fprintln(o.Out, "Stopping the simulated cluster...")
	if err := stopErr(); err != nil {
		return err
	}
	_ = os.Remove(kubeconfig)
	fmt.Fprintln(o.Out, "Stopped; every process it started is gone.")
	return nil
}

func (o *UpOptions) printUsage(c *simcluster.Cluster, kubeconfig string, t simcluster.Timings) {
	var nodes []string
	for _, n := range c.Nodes() {
		nodes = append(nodes, fmt.Sprintf("%s (%s, API via %s)", n.Name, n.Zone, n.APIServer()))
	}
	fmt.Fprintf(o.Out, `Simulated cluster is up.
  kubeconfig:    %s
  nodes:         %s
  storage:       StorageClasses %s (replicated, attach required) and %s (node-local); VolumeSnapshotClass %s
  timings:       node-monitor-grace-period %s, default tolerations %ds, crash back-off %s..%s
  work dir:      %s

  export KUBECONFIG=%s
  kubectl get nodes -L topology.kubernetes.io/zone

Press Ctrl-C to stop it.
`, kubeconfig, strings.Join(nodes, ", "), simcluster.LonghornClass, simcluster.LocalClass, simcluster.SnapshotClass,
		t.NodeMonitorGracePeriod, t.DefaultTolerationSeconds, t.CrashBackoff.Initial, t.CrashBackoff.Max, c.Dir(), kubeconfig)
}
