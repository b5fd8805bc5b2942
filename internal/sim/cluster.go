package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/irisha/irisha/internal/sim/controlplane"
	"github.com/irisha/irisha/internal/sim/kubelet"
	"github.com/irisha/irisha/internal/sim/kwok"
	"github.com/irisha/irisha/internal/sim/netproxy"
	"github.com/irisha/irisha/internal/sim/proc"
	"github.com/irisha/irisha/internal/sim/storage"
)

// Re-exported so users of the sim need only this package.
type (
	// ContainerRunner decides what process stands for a container.
	ContainerRunner = kubelet.ContainerRunner
	// ContainerEnv is what a ContainerRunner gets.
	ContainerEnv = kubelet.ContainerEnv
	// ContainerProcess is what a ContainerRunner returns.
	ContainerProcess = kubelet.ContainerProcess
)

// Storage class and driver names of the simulated block store.
const (
	LonghornClass         = storage.LonghornClass
	OfflineExpansionClass = storage.OfflineExpansionClass
	FixedSizeClass        = storage.FixedSizeClass
	LocalClass            = storage.LocalClass
	LonghornDriver        = storage.LonghornDriver
	SnapshotClass         = storage.SnapshotClass
)

// bootTimeout bounds waiting for nodes to become Ready at Start.
const bootTimeout = 2 * time.Minute

// Options of Start.
type Options struct {
	// Nodes is the number of simulated nodes (default 3).
	Nodes int
	// VirtualContainersReady: see kubelet.Config; for bench/scale only.
	VirtualContainersReady bool
	// Zones are assigned round-robin (default zone-a, zone-b, zone-c).
	Zones []string
	// Timings default to DefaultTimings() when zero.
	Timings Timings
	// WorkDir is the parent of the cluster's temporary directory (default
	// os.TempDir()). The cluster's own directory is removed by Stop.
	WorkDir string
	// KeepWorkDir leaves the directory (logs, etcd data) after Stop.
	KeepWorkDir bool
	// Runner, if set, decides which local process stands for each
	// container; nil simulates every container without a process.
	Runner ContainerRunner
	// ControllerManagerQPS, when positive, replaces kube-controller-manager's
	// default client rate (20 requests/s, burst 30) by this (burst 1.5
	// times it).
	ControllerManagerQPS int
	// AuditLog records every API request's metadata in <work dir>/audit.log
	// (JSON lines); it costs the API server CPU. Set KeepWorkDir to read it.
	AuditLog bool
	Log      logr.Logger
}

// Cluster is a running simulated cluster.
type Cluster struct {
	opts       Options
	timings    Timings
	dir        string
	reg        proc.Registry
	cp         *controlplane.ControlPlane
	store      *storage.Store
	scheme     *runtime.Scheme
	client     client.Client
	clientset  kubernetes.Interface
	kwokConfig string
	nodes      []*Node
	log        logr.Logger

	cancel   context.CancelFunc
	mgrDone  chan struct{}
	stopOnce sync.Once
	stopErr  error

	// procMu orders StartProcess before Stop: a process started after Stop
	// killed everything would leak.
	procMu   sync.Mutex
	stopping bool

	// netMu guards net and every node's net (network.go); routes is the
	// peer gateways' lock-free snapshot of them.
	netMu  sync.Mutex
	net    netState
	routes atomic.Pointer[peerRoutes]
}

// Start boots a cluster. ctx bounds the boot only; the cluster lives until
// Stop, which the caller must call (also when Start fails, it cleans up
// itself).
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if len(opts.Zones) == 0 {
		opts.Zones = []string{"zone-a", "zone-b", "zone-c"}
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	c := &Cluster{opts: opts, timings: opts.Timings, log: opts.Log}
	if c.timings == (Timings{}) {
		c.timings = DefaultTimings()
	}
	dir, err := os.MkdirTemp(opts.WorkDir, "irisha-sim-")
	if err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}
	c.dir = dir
	if err := c.boot(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) boot(ctx context.Context) error {
	var err error
	c.cp, err = controlplane.Start(ctx, controlplane.Config{
		Dir: c.dir, Registry: &c.reg,
		NodeMonitorGracePeriod:   c.timings.NodeMonitorGracePeriod,
		NodeMonitorPeriod:        c.timings.NodeMonitorPeriod,
		NodeStartupGracePeriod:   c.timings.NodeStartupGracePeriod,
		DefaultTolerationSeconds: c.timings.DefaultTolerationSeconds,
		ControllerManagerQPS:     c.opts.ControllerManagerQPS,
		AuditLog:                 c.opts.AuditLog,
		Log:                      c.log,
	})
	if err != nil {
		return err
	}
	if c.scheme, err = storage.NewScheme(); err != nil {
		return err
	}
	if c.client, err = client.New(c.cp.RESTConfig, client.Options{Scheme: c.scheme}); err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	if c.clientset, err = kubernetes.NewForConfig(c.cp.RESTConfig); err != nil {
		return fmt.Errorf("creating a clientset: %w", err)
	}
	if err := storage.Install(ctx, c.client); err != nil {
		return err
	}
	c.store = storage.New(storage.Config{
		Dir: c.dir, AttachDelay: c.timings.AttachDelay, SnapshotReadyDelay: c.timings.SnapshotReadyDelay,
		SnapshotCutDelay: c.timings.SnapshotCutDelay, Log: c.log,
	})
	if err := c.startStorage(); err != nil {
		return err
	}
	if c.kwokConfig, err = kwok.WriteConfig(c.dir, kwok.Config{StatusPeriod: c.timings.NodeStatusPeriod}); err != nil {
		return err
	}
	for i := range c.opts.Nodes {
		if err := c.addNode(ctx, i); err != nil {
			return err
		}
	}
	return c.waitReady(ctx)
}

// startStorage runs the block store's controllers in a controller-runtime
// manager talking to the API server directly (the block store is not
// partitioned with any one node).
func (c *Cluster) startStorage() error {
	skip := true
	mgr, err := ctrl.NewManager(c.cp.RESTConfig, ctrl.Options{
		Scheme:                 c.scheme,
		Logger:                 c.log.WithName("storage").V(1),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several clusters may run in one process (the benchmark).
		Controller: config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		return fmt.Errorf("creating the storage manager: %w", err)
	}
	if err := c.store.Setup(mgr); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.mgrDone = cancel, make(chan struct{})
	go func() {
		defer close(c.mgrDone)
		if err := mgr.Start(ctx); err != nil {
			c.log.Error(err, "Storage controllers stopped")
		}
	}()
	return nil
}

func (c *Cluster) addNode(ctx context.Context, i int) error {
	name := fmt.Sprintf("node-%d", i+1)
	n := &Node{
		Name: name, Zone: c.opts.Zones[i%len(c.opts.Zones)], IP: fmt.Sprintf("10.1.0.%d", i+1),
		c: c, index: i, log: c.log.WithName("node"), state: NodeRunning,
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "nodes", name), 0o700); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", name, err)
	}
	var err error
	if n.proxy, err = netproxy.New(c.cp.APIServerAddr); err != nil {
		return err
	}
	if n.gateway, err = netproxy.NewGateway(c.peerRouter(name)); err != nil {
		n.proxy.Close()
		return err
	}
	c.updateNetwork(func() { c.nodes = append(c.nodes, n) })
	n.kubeconfig = filepath.Join(c.dir, "nodes", name, "kubeconfig")
	if err := c.cp.WriteKubeconfig(n.kubeconfig, n.proxy.Addr()); err != nil {
		return err
	}
	// Register the node as its kubelet would, before kwok takes it over.
	if err := c.client.Create(ctx, kwok.NodeObject(name, n.Zone)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering node %s: %w", name, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.startLocked(ctx)
}

// waitReady waits until every node is Ready and the default namespace's
// service account exists (pods cannot be created before).
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	for _, n := range c.nodes {
		if err := WaitForNode(ctx, c.clientset, n.Name, NodeReady); err != nil {
			return fmt.Errorf("waiting for node %s to become Ready: %w", n.Name, err)
		}
	}
	if err := waitForServiceAccount(ctx, c.clientset, metav1.NamespaceDefault); err != nil {
		return err
	}
	c.log.Info("Simulated cluster ready", "nodes", len(c.nodes), "kubeconfig", c.Kubeconfig())
	return nil
}

// RESTConfig reaches the API server directly, as a cluster admin.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.cp.RESTConfig) }

// Kubeconfig is the path of an admin kubeconfig (direct, not via a node).
func (c *Cluster) Kubeconfig() string { return c.cp.AdminKubeconfig }

// WriteKubeconfig writes an admin kubeconfig to path.
func (c *Cluster) WriteKubeconfig(path string) error {
	return c.cp.WriteKubeconfig(path, c.cp.APIServerAddr)
}

// Client is a controller-runtime client (scheme: client-go types and
// VolumeSnapshots).
func (c *Cluster) Client() client.Client { return c.client }

// Clientset is a client-go clientset.
func (c *Cluster) Clientset() kubernetes.Interface { return c.clientset }

// Scheme of Client.
func (c *Cluster) Scheme() *runtime.Scheme { return c.scheme }

// Timings the cluster runs with.
func (c *Cluster) Timings() Timings { return c.timings }

// Dir is the work directory (logs, etcd data, volumes), removed by Stop.
func (c *Cluster) Dir() string { return c.dir }

// VolumeDir is the host directory standing for a PV's block device.
func (c *Cluster) VolumeDir(pvName string) string { return c.store.VolumeDir(pvName) }

// SetVolumeUsed sets how much of a PV's volume is in use, as the agent's
// statfs of it would say.
func (c *Cluster) SetVolumeUsed(pvName string, used int64) error {
	return c.store.SetVolumeUsed(pvName, used)
}

// HoldSnapshots keeps new snapshots from being cut until called with false.
func (c *Cluster) HoldSnapshots(hold bool) { c.store.HoldSnapshots(hold) }

// FailSnapshots makes every snapshot cut from now on fail with message; ""
// ends it.
func (c *Cluster) FailSnapshots(message string) { c.store.FailSnapshots(message) }

// SnapshotDir is the host directory holding a snapshot's copy of its
// volume, by the content's snapshot handle.
func (c *Cluster) SnapshotDir(handle string) string { return c.store.SnapshotDir(handle) }

// Nodes in creation order.
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// Node by name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// PIDs of every process the cluster ever started (control plane, kwok,
// processes on nodes), alive or not: after Stop none may be alive.
func (c *Cluster) PIDs() []int { return c.reg.PIDs() }

// StartProcess starts cmd next to the cluster rather than on a node (an
// operator running outside it, a client): in its own process group, out of
// reach of node chaos, killed by Stop and listed in PIDs. Its output goes
// to <Dir>/proc-<name>.log unless cmd.Stdout/Stderr are set.
func (c *Cluster) StartProcess(name string, cmd *exec.Cmd) (*proc.Process, error) {
	c.procMu.Lock()
	defer c.procMu.Unlock()
	if c.stopping {
		return nil, fmt.Errorf("the cluster is stopping: cannot start %s", name)
	}
	return proc.Start(&c.reg, name, cmd, filepath.Join(c.dir, "proc-"+sanitize(name)+".log"))
}

// Stop stops everything: kubelets and storage controllers, then every
// process by PID (nodes first, then the control plane), the proxies and
// gateways, and removes the work directory unless KeepWorkDir. A frozen
// API server is thawed first, so that clients stop without waiting on it.
// Safe to call twice.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.procMu.Lock()
		c.stopping = true
		c.procMu.Unlock()
		var errs []error
		if c.cp != nil {
			c.netMu.Lock()
			if err := c.thawLocked(); err != nil {
				errs = append(errs, err)
			}
			c.netMu.Unlock()
		}
		for _, n := range c.nodes {
			if err := n.shutdown(); err != nil {
				errs = append(errs, err)
			}
		}
		if c.cancel != nil {
			c.cancel()
			<-c.mgrDone
		}
		if err := c.reg.KillAll(); err != nil {
			errs = append(errs, err)
		}
		c.closeClients()
		if !c.opts.KeepWorkDir && c.dir != "" {
			if err := os.RemoveAll(c.dir); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", c.dir, err))
			}
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// NodeCondition is a predicate on a Node for WaitForNode.
type NodeCondition func(*corev1.Node) bool

// NodeReady: the Ready condition is True.
func NodeReady(n *corev1.Node) bool { return nodeReadyStatus(n) == corev1.ConditionTrue }

// NodeNotReady: the Ready condition is not True (False or Unknown).
func NodeNotReady(n *corev1.Node) bool { return nodeReadyStatus(n) != corev1.ConditionTrue }

func nodeReadyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// PodReady reports whether the pod is Running with its Ready condition True.
func PodReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
