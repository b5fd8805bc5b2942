package kubelet

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/irisha/irisha/internal/sim/proc"
)

// podWorkers is how many pods one simulated kubelet syncs at once. The real
// kubelet gives every pod a worker goroutine of its own; two made a node
// that receives a lost node's 30 pods start them one pair at a time.
const podWorkers = 16

// ContainerEnv is what a ContainerRunner gets to start one container of a
// pod on a simulated node.
type ContainerEnv struct {
	Node string
	// NodeIP is the node's InternalIP (a pod's status.hostIP).
	NodeIP    string
	Pod       *corev1.Pod
	Container string
	// RestartCount is 0 for the first start.
	RestartCount int32
	// Kubeconfig and APIServer reach the API server through the node's own
	// proxy, so a partition of the node cuts the process off too.
	// Kubeconfig authenticates as the pod's ServiceAccount with the token
	// the kubelet requested for the pod (a tokenFile in ServiceAccountDir,
	// refreshed by the kubelet), or carries no credentials when the
	// container mounts no token (automountServiceAccountToken false); it
	// is the node's admin kubeconfig only without Config.StateDir.
	Kubeconfig string
	APIServer  string
	// NodeKubeconfig is the kubelet's own, through the same proxy: for
	// what a kubelet reads itself on the pod's behalf (its Secret and
	// ConfigMap volumes), never for the container's process.
	NodeKubeconfig string
	// ServiceAccountDir is the host directory standing for the container's
	// mount at ServiceAccountMountPath (token, ca.crt, namespace), "" when
	// it has none. In-cluster config reads that fixed path, which the host
	// cannot provide: point the process at Kubeconfig instead.
	ServiceAccountDir string
	// Volumes maps the pod's PVC-backed volume names to the host directory
	// standing for the mounted block device.
	Volumes map[string]string
	// TerminationMessageFile is the host file standing for the container's
	// terminationMessagePath (empty without Config.StateDir): what the
	// process writes there becomes the message of its terminated state,
	// as the real kubelet reads the file it bind-mounts there. The runner
	// points the process at it.
	TerminationMessageFile string
}

// ContainerProcess is the process standing for one container.
type ContainerProcess struct {
	// Cmd is started by the kubelet (unstarted here).
	Cmd *exec.Cmd
	// Ports maps a container port of the pod spec to the 127.0.0.1 port
	// the process really listens on: many pods share the host's loopback,
	// so they cannot all listen on the spec's port. Probes of an unmapped
	// port go to the spec's port on 127.0.0.1.
	Ports map[int32]int32
	// Exec, if set, runs a command inside this container (StartExec, what
	// `kubectl exec` reaches); nil: the container runs no other command.
	Exec ExecFunc
}

// ContainerRunner returns the process that stands for one container, or
// nil to simulate the container without a process. The process is the
// container: its exit is a container crash (restarted with back-off), and
// it is SIGTERMed on pod deletion, SIGKILLed when the node is killed and
// SIGSTOPped when the node freezes. Its httpGet, tcpSocket and exec (in
// the container, through Exec) probes are run as the kubelet would. A
// virtual container has nothing to probe: Ready while it runs unless it
// has a readiness probe, which nothing could answer. An error that
// IsStartError is the runtime's failure to start the container's program
// (StartError, retried with back-off); any other is retried as the
// kubelet's own.
type ContainerRunner func(ctx context.Context, env ContainerEnv) (*ContainerProcess, error)

// Config of one simulated kubelet.
type Config struct {
	NodeName string
	// VirtualContainersReady reports a virtual container Ready although
	// nothing answers its readiness probe, as if it passed. Only for a
	// benchmark of the control plane (bench/scale), which says so; never
	// for a test of what irisha does with readiness.
	VirtualContainersReady bool
	// NodeIP is reported as the pods' hostIP; PodIPPrefix (e.g. "10.244.1.")
	// plus a counter gives pod IPs.
	NodeIP, PodIPPrefix string
	// RESTConfig, Kubeconfig and APIServer reach the API server through the
	// node's proxy.
	RESTConfig *rest.Config
	Kubeconfig string
	APIServer  string
	Runner     ContainerRunner
	// StartProcess starts a process owned by the node (killed, frozen and
	// cut off with it).
	StartProcess func(name string, cmd *exec.Cmd) (*proc.Process, error)
	// VolumeDir returns the host directory of a PV.
	VolumeDir func(pvName string) string
	// StateDir, if set, holds the node's files standing for containers'
	// own (termination messages); see ContainerEnv.TerminationMessageFile.
	StateDir string
	Backoff  Backoff
	Log      logr.Logger
}

// Kubelet is one simulated node's kubelet.
type Kubelet struct {
	cfg      Config
	cs       kubernetes.Interface
	queue    workqueue.TypedRateLimitingInterface[string]
	lis      listers
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	recorder record.EventRecorder
	gate     gate

	mu       sync.Mutex
	state    map[string]*podState
	ipSeq    int
	nodeMu   sync.Mutex
	reported []corev1.UniqueVolumeName
}

// New returns a kubelet; Run starts it.
func New(cfg Config) *Kubelet {
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff()
	}
	return &Kubelet{cfg: cfg, state: map[string]*podState{}}
}

// Freeze stops all processing (as SIGSTOP would) until Thaw.
func (k *Kubelet) Freeze() { k.gate.freeze() }

// Thaw resumes processing.
func (k *Kubelet) Thaw() { k.gate.thaw() }

// Run works until ctx is cancelled. Cancelling is how a node dies: no
// further API call is made (in-flight ones are aborted).
func (k *Kubelet) Run(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(k.cfg.RESTConfig)
	if err != nil {
		return fmt.Errorf("creating the kubelet client of %s: %w", k.cfg.NodeName, err)
	}
	k.cs = cs
	k.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 5*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "kubelet-" + k.cfg.NodeName})
	defer k.queue.ShutDown()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})

	// Pods of this node only, as the real kubelet watches them.
	podFactory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
	}))
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", k.cfg.NodeName).String()
	}))
	factory := informers.NewSharedInformerFactory(cs, 0)

	podInf := podFactory.Core().V1().Pods()
	k.pods = podInf.Lister()
	k.nodes = nodeFactory.Core().V1().Nodes().Lister()
	k.lis = listers{
		pvcs:       factory.Core().V1().PersistentVolumeClaims().Lister(),
		pvs:        factory.Core().V1().PersistentVolumes().Lister(),
		csiDrivers: factory.Storage().V1().CSIDrivers().Lister(),
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.enqueueObj,
		UpdateFunc: func(_, o any) { k.enqueueObj(o) },
		DeleteFunc: k.enqueueObj,
	}); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	// Attachment progress (node.status.volumesAttached), PVC binding and
	// PVs unblock waiting pods: resync every pod of the node.
	all := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { k.enqueueAll() },
		UpdateFunc: func(_, _ any) { k.enqueueAll() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		nodeFactory.Core().V1().Nodes().Informer(),
		factory.Core().V1().PersistentVolumeClaims().Informer(),
		factory.Core().V1().PersistentVolumes().Informer(),
		factory.Storage().V1().CSIDrivers().Informer(),
	} {
		if _, err := inf.AddEventHandler(all); err != nil {
			return fmt.Errorf("adding a handler: %w", err)
		}
	}
	for _, f := range []informers.SharedInformerFactory{podFactory, nodeFactory, factory} {
		f.Start(ctx.Done())
	}
	defer func() {
		for _, f := range []informers.SharedInformerFactory{podFactory, nodeFactory, factory} {
			f.Shutdown()
		}
	}()
	for _, f := range []informers.SharedInformerFactory{podFactory, nodeFactory, factory} {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return fmt.Errorf("kubelet %s: cache of %v not synced: %w", k.cfg.NodeName, typ, ctx.Err())
			}
		}
	}
	k.cfg.Log.V(1).Info("Kubelet started", "node", k.cfg.NodeName)
	var wg sync.WaitGroup
	for range podWorkers {
		wg.Go(func() {
			for k.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	k.queue.ShutDown()
	wg.Wait()
	return nil
}

func (k *Kubelet) enqueueObj(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		k.queue.Add(key)
	}
}

func (k *Kubelet) enqueueAll() {
	pods, err := k.pods.List(labelsEverything())
	if err != nil {
		return
	}
	for _, p := range pods {
		k.queue.Add(p.Namespace + "/" + p.Name)
	}
}

func (k *Kubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.gate.wait(ctx); err != nil {
		return false
	}
	after, err := k.syncPod(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			k.cfg.Log.V(1).Info("Pod sync failed; retrying", "node", k.cfg.NodeName, "pod", key, "error", err.Error())
		}
		k.queue.AddRateLimited(key)
	case after > 0:
		k.queue.Forget(key)
		k.queue.AddAfter(key, after)
	default:
		k.queue.Forget(key)
	}
	return true
}

// gate blocks work while the node is frozen.
type gate struct {
	mu     sync.Mutex
	frozen chan struct{}
}

func (g *gate) freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.frozen == nil {
		g.frozen = make(chan struct{})
	}
}

func (g *gate) thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.frozen != nil {
		close(g.frozen)
		g.frozen = nil
	}
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.frozen
	g.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
