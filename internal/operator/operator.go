// Package operator wires the controllers into a controller-runtime manager:
// scheme, cache scope, leader election, the secured metrics endpoint and the
// health probes.
package operator

import (
	"context"
	"fmt"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/backup"
	"github.com/irisha/irisha/internal/controller/failover"
	"github.com/irisha/irisha/internal/controller/instance"
	"github.com/irisha/irisha/internal/controller/witnesses"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/version"
)

// LeaderElectionID names the Lease the operator replicas elect their
// leader on, in the leader-election namespace.
const LeaderElectionID = "irisha-operator.irisha.dev"

// Options of the operator process.
type Options struct {
	// MetricsAddr is where /metrics is served; "0" disables it.
	MetricsAddr string
	// MetricsSecure serves /metrics over HTTPS, each scrape authenticated
	// (TokenReview) and authorized (SubjectAccessReview, get on the
	// non-resource URL /metrics) by the API server. Off only for local
	// runs: the endpoint then answers anyone who reaches it.
	MetricsSecure bool
	// MetricsCertDir holds tls.crt and tls.key for the metrics endpoint,
	// reloaded when they change (cert-manager rotation); empty or missing
	// files: a self-signed certificate made at start.
	MetricsCertDir string
	// EnableHTTP2 lets the metrics endpoint speak HTTP/2. Off by default,
	// as in kubebuilder's scaffold: HTTP/2 rapid reset and stream
	// cancellation attacks (CVE-2023-44487, CVE-2023-39325) reach any
	// HTTP/2 server, and a scrape gains nothing from it.
	EnableHTTP2 bool
	ProbeAddr   string
	LeaderElect bool
	// LeaderElectionNamespace holds the leader Lease; empty: the pod's own
	// namespace (the operator must then run in a pod).
	LeaderElectionNamespace string
	// WatchNamespaces limits the namespaced objects the operator caches
	// and reconciles to these namespaces; empty: all. Cluster-scoped
	// objects (Nodes, PersistentVolumes, VolumeAttachments) are watched
	// either way, and cacheOptions adds the namespaces the failover
	// controller reads outside the instances' own. Both caches
	// (cacheOptions, referencesOptions) keep to them.
	WatchNamespaces []string
	AgentImage      string
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

// Metrics are irisha's own metrics of the operator.
type Metrics struct {
	Instance *instance.Metrics
	Failover *failover.Metrics
	Backup   *backup.Metrics
}

// NewMetrics registers irisha's own metrics of the operator with reg. The
// operator serves them from controller-runtime's metrics.Registry, beside
// controller-runtime's, client-go's and the Go runtime's; the monitoring
// checks (hack/manifests) read their names from a registry of their own.
func NewMetrics(reg prometheus.Registerer) Metrics {
	return Metrics{Instance: instance.NewMetrics(reg), Failover: failover.NewMetrics(reg), Backup: backup.NewMetrics(reg)}
}

// SetupControllers registers every irisha controller with mgr, and their
// metrics with controller-runtime's registry (so once per process); with
// witnessNamespace, the failover controller waits for the node witnesses
// there. references is the cache the instance controller watches the
// referenced ConfigMaps' and Secrets' metadata in (newReferencesCache).
func SetupControllers(mgr ctrl.Manager, agentImage, witnessNamespace string, references cache.Cache) error {
	m := NewMetrics(metrics.Registry)
	r := &instance.Reconciler{
		AgentImage: agentImage,
		Client:     client.WithFieldOwner(mgr.GetClient(), instance.FieldManager),
		Scheme:     mgr.GetScheme(),
		Recorder:   mgr.GetEventRecorder("irisha-operator"),
		Clock:      clock.RealClock{},
		Metrics:    m.Instance,
	}
	if err := r.SetupWithReferences(mgr, references); err != nil {
		return fmt.Errorf("setting up the IrisInstance controller: %w", err)
	}
	// One field manager per controller, so managedFields say which part
	// of irisha wrote what.
	f := &failover.Reconciler{
		Client:   client.WithFieldOwner(mgr.GetClient(), failover.FieldManager),
		Recorder: mgr.GetEventRecorder("irisha-failover"),
		Clock:    clock.RealClock{},
		Timing:   fencing.DefaultTiming(),
		Metrics:  m.Failover,
	}
	if witnessNamespace != "" {
		o := witnesses.NewObserver(mgr, witnessNamespace, f.Timing.SkewMargin, ctrl.Log.WithName("witnesses"))
		if err := (&witnesses.MirrorReconciler{Client: client.WithFieldOwner(mgr.GetClient(), witnesses.FieldManager), Observer: o}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the witnesses' mirror: %w", err)
		}
		f.Witnesses = o
	}
	if err := f.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the failover controller: %w", err)
	}
	n := &failover.NodeReconciler{
		Client:   client.WithFieldOwner(mgr.GetClient(), failover.FieldManager),
		Recorder: mgr.GetEventRecorder("irisha-failover"),
		Clock:    clock.RealClock{},
		Timing:   fencing.DefaultTiming(),
	}
	if err := n.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the failover controller's node pass: %w", err)
	}
	return setupBackups(mgr, m.Backup)
}

func setupBackups(mgr ctrl.Manager, m *backup.Metrics) error {
	served, err := backup.SnapshotAPIServed(mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	if !served {
		ctrl.Log.Info("This cluster serves no VolumeSnapshot API: IrisBackups will fail until the external-snapshotter CRDs are installed and the operator restarted")
	}
	b := &backup.Reconciler{
		Client:        client.WithFieldOwner(mgr.GetClient(), backup.FieldManager),
		Scheme:        mgr.GetScheme(),
		Recorder:      mgr.GetEventRecorder("irisha-backup"),
		Clock:         clock.RealClock{},
		Metrics:       m,
		NoSnapshotAPI: !served,
	}
	if err := b.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the IrisBackup controller: %w", err)
	}
	s := &backup.ScheduleReconciler{Client: client.WithFieldOwner(mgr.GetClient(), backup.ScheduleFieldManager), Recorder: mgr.GetEventRecorder("irisha-backup"), Clock: clock.RealClock{}}
	if err := s.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the IrisScheduledBackup controller: %w", err)
	}
	return nil
}

// NewManager builds the operator's manager on cfg, with every controller
// and the health checks registered; Start runs it.
func NewManager(cfg *rest.Config, opts Options) (manager.Manager, error) {
	mgr, references, err := newManager(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := SetupControllers(mgr, opts.AgentImage, opts.WitnessNamespace, references); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches", cachesSynced(mgr.GetCache())); err != nil {
		return nil, fmt.Errorf("adding the readiness check: %w", err)
	}
	if err := mgr.AddReadyzCheck("reference-caches", cachesSynced(references)); err != nil {
		return nil, fmt.Errorf("adding the readiness check of the referenced objects' cache: %w", err)
	}
	return mgr, nil
}

// newManager is NewManager's manager before any controller: its own cache
// (cacheOptions) and the cache of the referenced objects' metadata
// (newReferencesCache), which it returns too. tweaks change the manager's
// options last (tests).
func newManager(cfg *rest.Config, opts Options, tweaks ...func(*ctrl.Options)) (manager.Manager, cache.Cache, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.KubeAPIQPS, opts.KubeAPIBurst
	// Its own name in the API server's audit log and metrics: the agents
	// run the same binary.
	cfg.UserAgent = "irisha-operator/" + version.Version
	o := ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cacheOptions(opts),
		Metrics:                 metricsServerOptions(opts),
		HealthProbeBindAddress:  opts.ProbeAddr,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// Hand the leader Lease back on a clean stop, so a new leader
		// (the rolled-out replica) starts at once instead of waiting a
		// whole LeaseDuration. controller-runtime releases it only after
		// the controllers stopped or GracefulShutdownTimeout passed, so
		// it is safe only if the binary ends as soon as the Manager does:
		// a reconcile still stuck after that timeout must not outlive the
		// release. It does: Run returns when Start does, the operator
		// command returns Run's error, and main exits
		// (cmd/irisha-manager). Nothing may run after Run returns.
		// https://pkg.go.dev/sigs.k8s.io/controller-runtime/pkg/manager#Options
		LeaderElectionReleaseOnCancel: true,
	}
	for _, tweak := range tweaks {
		tweak(&o)
	}
	mgr, err := ctrl.NewManager(cfg, o)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the manager: %w", err)
	}
	references, err := newReferencesCache(mgr, opts)
	if err != nil {
		return nil, nil, err
	}
	return mgr, references, nil
}

// Run starts the operator on the kubeconfig's cluster (or the in-cluster
// config) and blocks until ctx is done. The caller must end the process as
// soon as it returns: the leader Lease is already released
// (LeaderElectionReleaseOnCancel in NewManager).
func Run(ctx context.Context, opts Options) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		return err
	}
	if !opts.MetricsSecure && opts.MetricsAddr != "0" {
		ctrl.Log.Info("Serving metrics over plain HTTP to anyone who reaches it (--metrics-secure=false): for local runs only", "address", opts.MetricsAddr)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}
