// Package operator wires the controllers into a controller-runtime manager:
// scheme, leader election, metrics and health endpoints.
package operator

import (
	"context"
	"fmt"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/backup"
	"github.com/irisha/irisha/internal/controller/failover"
	"github.com/irisha/irisha/internal/controller/instance"
	"github.com/irisha/irisha/internal/controller/witnesses"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/logging"
	"github.com/irisha/irisha/internal/version"
)

// Options of the operator process.
type Options struct {
	MetricsAddr             string
	ProbeAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	AgentImage              string
	// KubeAPIQPS and KubeAPIBurst bound the operator's requests. A node
	// loss fails over every instance on the node at once, a handful of
	// writes each: controller-runtime's defaults (20/30) would queue a node with 30
	// instances for seconds.
	KubeAPIQPS   float32
	KubeAPIBurst int
	// WitnessNamespace is where the node witnesses keep their records;
	// empty when the cluster runs none.
	WitnessNamespace string
}

// NewScheme returns a scheme with the built-in types and irisha's.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering built-in types: %w", err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering irisha types: %w", err)
	}
	if err := snapshotv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering VolumeSnapshot types: %w", err)
	}
	return s, nil
}

// SetupControllers registers every irisha controller with mgr; with
// witnessNamespace, the failover controller waits for the node witnesses
// there.
func SetupControllers(mgr ctrl.Manager, agentImage, witnessNamespace string) error {
	r := &instance.Reconciler{
		AgentImage:  agentImage,
		Client:      mgr.GetClient(),
		Scheme:      mgr.GetScheme(),
		Recorder:    mgr.GetEventRecorder("irisha-operator"),
		Clock:       clock.RealClock{},
		VolumeUsage: instance.NewVolumeUsageGauge(metrics.Registry),
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the IrisInstance controller: %w", err)
	}
	f := &failover.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("irisha-failover"),
		Clock:    clock.RealClock{},
		Timing:   fencing.DefaultTiming(),
		Metrics:  failover.NewMetrics(metrics.Registry),
	}
	if witnessNamespace != "" {
		o := witnesses.NewObserver(mgr, witnessNamespace, f.Timing.SkewMargin, ctrl.Log.WithName("witnesses"))
		if err := (&witnesses.MirrorReconciler{Client: mgr.GetClient(), Observer: o}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the witnesses' mirror: %w", err)
		}
		f.Witnesses = o
	}
	if err := f.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the failover controller: %w", err)
	}
	n := &failover.NodeReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("irisha-failover"),
		Clock:    clock.RealClock{},
		Timing:   fencing.DefaultTiming(),
	}
	if err := n.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the failover controller's node pass: %w", err)
	}
	return setupBackups(mgr)
}

func setupBackups(mgr ctrl.Manager) error {
	served, err := backup.SnapshotAPIServed(mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	if !served {
		ctrl.Log.Info("This cluster serves no VolumeSnapshot API: IrisBackups will fail until the external-snapshotter CRDs are installed and the operator restarted")
	}
	m := backup.NewMetrics(metrics.Registry)
	b := &backup.Reconciler{
		Client:        mgr.GetClient(),
		Scheme:        mgr.GetScheme(),
		Recorder:      mgr.GetEventRecorder("irisha-backup"),
		Clock:         clock.RealClock{},
		Metrics:       m,
		NoSnapshotAPI: !served,
	}
	if err := b.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the IrisBackup controller: %w", err)
	}
	s := &backup.ScheduleReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("irisha-backup"), Clock: clock.RealClock{}}
	if err := s.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the IrisScheduledBackup controller: %w", err)
	}
	return nil
}

// Run starts the manager and blocks until ctx is done.
func Run(ctx context.Context, opts Options) error {
	scheme, err := NewScheme()
	if err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = opts.KubeAPIQPS, opts.KubeAPIBurst
	// Its own name in the API server's audit log and metrics: the agents
	// run the same binary.
	cfg.UserAgent = "irisha-operator/" + version.Version
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.ProbeAddr,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        "irisha-operator.irisha.dev",
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// A new leader must not act while the old one may still write.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := SetupControllers(mgr, opts.AgentImage, opts.WitnessNamespace); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}

// NewCommand is `irisha-manager operator`.
func NewCommand() *cobra.Command {
	opts := Options{}
	var logOpts *logging.Options
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run the irisha operator (IrisInstance controller)",
		Long: `Run the irisha operator against the cluster of the current kubeconfig
(or the in-cluster config). It reconciles IrisInstances into a PVC, a merge
Secret, a ServiceAccount, a Deployment and a Service.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(logOpts.Logger())
			return Run(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	f.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	f.BoolVar(&opts.LeaderElect, "leader-elect", false, "elect a leader so that only one operator replica acts at a time")
	f.StringVar(&opts.AgentImage, "agent-image", version.DefaultImage(), "irisha image whose irisha-manager becomes PID 1 of IRIS pods")
	f.Float32Var(&opts.KubeAPIQPS, "kube-api-qps", 100, "requests per second to the API server, sustained")
	f.IntVar(&opts.KubeAPIBurst, "kube-api-burst", 200, "requests to the API server in a burst (a node loss fails over all its instances at once)")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's namespace)")
	f.StringVar(&opts.WitnessNamespace, "witness-namespace", "", "namespace of the node witnesses' records (irisha-manager witness): with it, a failover waits until a majority of them reach the API server, and agents ride out control-plane outages on their word; empty: no witnesses")
	logOpts = logging.AddFlags(f)
	return cmd
}
