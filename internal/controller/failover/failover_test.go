package failover_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/failover"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/testenv"
)

// env is a real kube-apiserver and etcd. No kubelet runs: the tests play the
// kubelets and the attach/detach controller by writing pods, node status and
// VolumeAttachments themselves, and the failover controller sees only the API.
var env *testenv.Env

const (
	timeout       = 45 * time.Second
	leaseDuration = 5 * time.Second
	driver        = "driver.longhorn.io"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping the integration tests of internal/controller/failover in -short mode")
		return
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel())))
	var err error
	if env, err = testenv.Start(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

func zapLevel() zapcore.Level {
	if os.Getenv("IRISHA_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// testNamespaceLabel marks the nodes of a test, and their node Leases, with
// the test's namespace: each test's operator sees only its own.
const testNamespaceLabel = "irisha.test/namespace"

// startOperator runs the failover controller and the node pass in a manager
// of their own, which sees only namespace ns and the nodes (and node
// Leases) labelled with it, so the tests can run side by side, until the
// returned stop is called; funcs, if set, intercept its client.
func startOperator(t *testing.T, ns string, funcs *interceptor.Funcs) (stop func()) {
	t.Helper()
	return startOperatorWithMetrics(t, ns, funcs, prometheus.NewRegistry())
}

// startOperatorWithMetrics is startOperator with the failover metrics in reg.
func startOperatorWithMetrics(t *testing.T, ns string, funcs *interceptor.Funcs, reg *prometheus.Registry) (stop func()) {
	t.Helper()
	own := labels.SelectorFromSet(labels.Set{testNamespaceLabel: ns})
	opts := ctrl.Options{
		Scheme: env.Scheme,
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{ns: {}, corev1.NamespaceNodeLease: {LabelSelector: own}},
			ByObject:          map[client.Object]cache.ByObject{&corev1.Node{}: {Label: own}},
		},
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Every test runs an operator of its own in this one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if funcs != nil {
		opts.NewClient = func(cfg *rest.Config, o client.Options) (client.Client, error) {
			c, err := client.NewWithWatch(cfg, o)
			if err != nil {
				return nil, err
			}
			return interceptor.NewClient(c, *funcs), nil
		}
	}
	mgr, err := ctrl.NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &failover.Reconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("irisha-operator"), Clock: clock.RealClock{},
		Timing: fencing.DefaultTiming(), Metrics: failover.NewMetrics(reg),
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	nodes := &failover.NodeReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("irisha-operator"), Clock: clock.RealClock{}, Timing: fencing.DefaultTiming(),
	}
	if err := nodes.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// fixture is one instance whose pod runs on node1, the way a kubelet and
// the attach/detach controller would have left it, with node2 spare.
type fixture struct {
	ns, node1, node2 string
	inst             *v1alpha1.IrisInstance
	pod              *corev1.Pod
	pv               string
	volume           corev1.UniqueVolumeName
	attachment       string
	renewedAt        time.Time
}

func newNamespace(t *testing.T, ctx context.Context) string {
	t.Helper()
	t.Parallel()
	ns, err := env.Namespace(ctx, "failover")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func newFixture(t *testing.T, ctx context.Context, ns string, mode v1alpha1.FailoverMode) *fixture {
	t.Helper()
	node1, node2 := ns+"-node-1", ns+"-node-2"
	createNodes(t, ctx, ns, node1, node2)
	return newInstanceOn(t, ctx, ns, "iris", mode, node1, node2)
}

// createNodes creates Ready nodes of the test of namespace ns, each with
// the node Lease its kubelet renewed last just now: the tests play the
// kubelets, which renew only when told (renewNodeLease, kubeletBack).
func createNodes(t *testing.T, ctx context.Context, ns string, names ...string) {
	t.Helper()
	for _, n := range names {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{testNamespaceLabel: ns}}}
		if err := env.Client.Create(ctx, node); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		if err := env.Client.Status().Update(ctx, node); err != nil {
			t.Fatal(err)
		}
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: n, Labels: map[string]string{testNamespaceLabel: ns}},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(n), LeaseDurationSeconds: ptr.To(int32(40)), RenewTime: &metav1.MicroTime{Time: time.Now()},
			},
		}
		// kube-node-lease is created by the API server soon after it starts.
		if err := retry.OnError(wait.Backoff{Steps: 50, Duration: 100 * time.Millisecond, Factor: 1}, apierrors.IsNotFound, func() error {
			return env.Client.Create(ctx, lease)
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), lease) })
	}
}

// renewNodeLease plays node's kubelet renewing its node Lease once.
func renewNodeLease(ctx context.Context, node string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: node}, l); err != nil {
			return err
		}
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		return env.Client.Update(ctx, l)
	})
}

// kubeletBack plays node's kubelet, back: it renews the node Lease now and
// then every second until the test ends.
func kubeletBack(t *testing.T, ctx context.Context, node string) {
	t.Helper()
	if err := renewNodeLease(ctx, node); err != nil {
		t.Fatal(err)
	}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = renewNodeLease(ctx, node)
			}
		}
	}()
}

// consistently fails the test if cond does not hold throughout d: for what
// must not happen, which no eventually can show. d covers a periodic look
// of the operator's at the nodes it marked (fencing.Timing.TidyRecheck).
func consistently(t *testing.T, ctx context.Context, what string, d time.Duration, cond func(context.Context) bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond(ctx) {
			t.Fatalf("%s no longer holds", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cordonedByIrisha: node is cordoned and annotated so by irisha.
func (f *fixture) cordonedByIrisha(ctx context.Context, node string) bool {
	n := f.node(ctx, node)
	return n.Spec.Unschedulable && n.Annotations[v1alpha1.AnnotationCordoned] == "true"
}

// givenBack: irisha lifted its cordon from node.
func (f *fixture) givenBack(ctx context.Context, node string) bool {
	n := f.node(ctx, node)
	return !n.Spec.Unschedulable && n.Annotations[v1alpha1.AnnotationCordoned] == ""
}

// newInstanceOn creates instance name whose pod runs on node1 with its
// volume attached and in use there (added to what node1 already uses).
func newInstanceOn(t *testing.T, ctx context.Context, ns, name string, mode v1alpha1.FailoverMode, node1, node2 string) *fixture {
	t.Helper()
	f := &fixture{ns: ns, node1: node1, node2: node2, pv: "pv-" + ns + "-" + name}
	f.volume = corev1.UniqueVolumeName("kubernetes.io/csi/" + driver + "^" + f.pv)
	f.attachment = "csi-" + ns + "-" + name
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n := f.node(ctx, node1)
		n.Status.VolumesInUse = append(n.Status.VolumesInUse, f.volume)
		return env.Client.Status().Update(ctx, n)
	}))

	f.inst = &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage:  v1alpha1.StorageSpec{Size: resource.MustParse("10Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: mode, LeaseDurationSeconds: int32(leaseDuration / time.Second)},
		},
	}
	must(env.Client.Create(ctx, f.inst))
	labels := resources.Labels(f.inst)

	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: f.pv},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: f.pv}},
			ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: resources.PVCName(f.inst)},
		},
	}
	must(env.Client.Create(ctx, pv))
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pv) })
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.PVCName(f.inst), Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
			VolumeName:  f.pv,
		},
	}
	must(env.Client.Create(ctx, pvc))

	f.pod = f.runPod(t, ctx, name+"-a", f.node1)
	va := &storagev1.VolumeAttachment{
		ObjectMeta: metav1.ObjectMeta{Name: f.attachment},
		Spec:       storagev1.VolumeAttachmentSpec{Attacher: driver, NodeName: f.node1, Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &f.pv}},
	}
	must(env.Client.Create(ctx, va))
	va.Status.Attached = true
	must(env.Client.Status().Update(ctx, va))
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), va) })

	f.renewedAt = time.Now()
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.FencingLeaseName(f.inst), Labels: labels},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(fencing.Identity(f.pod.Name, string(f.pod.UID))),
			LeaseDurationSeconds: ptr.To(int32(leaseDuration / time.Second)),
			RenewTime:            &metav1.MicroTime{Time: f.renewedAt},
		},
	}
	must(env.Client.Create(ctx, lease))
	return f
}

// irisContainer is the instance's IRIS container as far as the operator
// looks at it: the agent as its command, for the instance's Lease.
func (f *fixture) irisContainer() corev1.Container {
	return corev1.Container{Name: resources.ContainerName, Image: f.inst.Spec.Image,
		Command: []string{resources.AgentBinary, "agent", "run", "--lease-name", resources.FencingLeaseName(f.inst)}}
}

// runPod creates a pod of the instance that a kubelet reports running and Ready.
func (f *fixture) runPod(t *testing.T, ctx context.Context, name, node string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name, Labels: resources.Labels(f.inst)},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{f.irisContainer()}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{
		Phase:             corev1.PodRunning,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "iris", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
	}
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// renew plays the old pod's agent renewing its Lease.
func (f *fixture) renew(ctx context.Context) error {
	lease := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: resources.FencingLeaseName(f.inst)}, lease); err != nil {
		return err
	}
	f.renewedAt = time.Now()
	lease.Spec.RenewTime = &metav1.MicroTime{Time: f.renewedAt}
	return env.Client.Update(ctx, lease)
}

func (f *fixture) instance(ctx context.Context) *v1alpha1.IrisInstance {
	inst := &v1alpha1.IrisInstance{}
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(f.inst), inst)
	return inst
}

func (f *fixture) node(ctx context.Context, name string) *corev1.Node {
	n := &corev1.Node{}
	_ = env.Client.Get(ctx, client.ObjectKey{Name: name}, n)
	return n
}

func (f *fixture) podGone(ctx context.Context) bool {
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(f.pod), &corev1.Pod{})
	return apierrors.IsNotFound(err)
}

func (f *fixture) attachmentGone(ctx context.Context) bool {
	err := env.Client.Get(ctx, client.ObjectKey{Name: f.attachment}, &storagev1.VolumeAttachment{})
	return apierrors.IsNotFound(err)
}

func (f *fixture) lease(ctx context.Context) *coordinationv1.Lease {
	l := &coordinationv1.Lease{}
	_ = env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: resources.FencingLeaseName(f.inst)}, l)
	return l
}

// fenced: every step of a Lease-mode failover is visible in the API.
func (f *fixture) fenced(ctx context.Context) bool {
	n1 := f.node(ctx, f.node1)
	l := f.lease(ctx)
	return f.podGone(ctx) && f.attachmentGone(ctx) &&
		n1.Spec.Unschedulable && n1.Annotations[v1alpha1.AnnotationCordoned] == "true" &&
		!slices.Contains(n1.Status.VolumesInUse, f.volume) &&
		l.Spec.HolderIdentity == nil && strings.Contains(l.Annotations[v1alpha1.AnnotationFencedHolders], string(f.pod.UID))
}

// fencedRecorded: the status records the failover as fenced, which the
// reconcile after the last step does.
func (f *fixture) fencedRecorded(ctx context.Context) bool {
	rec := f.instance(ctx).Status.LastFailover
	return rec != nil && rec.FencedAt != nil
}

func eventually(t *testing.T, ctx context.Context, what string, cond func(context.Context) bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) { return cond(ctx), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func setNodeReady(t *testing.T, ctx context.Context, name string, status corev1.ConditionStatus) {
	t.Helper()
	n := &corev1.Node{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, n); err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if err := env.Client.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseExpiryFailsOver: the agent stops renewing (its node is cut off);
// only after the Lease duration plus the skew margin does the operator
// cordon the node, force-delete the pod, hand the Lease over and free the
// volume; a replacement Ready on another node completes the failover; the
// node, whose cut was too short to make it NotReady, is uncordoned once its
// kubelet renews its node Lease.
func TestLeaseExpiryFailsOver(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, ctx)
	reg := prometheus.NewRegistry()
	startOperatorWithMetrics(t, ns, nil, reg)
	f := newFixture(t, ctx, ns, v1alpha1.FailoverLease)

	eventually(t, ctx, "every fencing step", f.fenced)
	eventually(t, ctx, "status.lastFailover.fencedAt", f.fencedRecorded)
	rec := f.instance(ctx).Status.LastFailover
	if rec.Pod != f.pod.Name || rec.Node != f.node1 || rec.Reason != fencing.ReasonLeaseExpired || rec.FencedAt == nil {
		t.Fatalf("status.lastFailover = %+v", rec)
	}
	// The operator's clock started no earlier than the renewal it saw.
	if earliest := f.renewedAt.Add(leaseDuration + fencing.DefaultTiming().SkewMargin); rec.DetectedAt.Time.Before(earliest.Truncate(time.Microsecond)) {
		t.Errorf("declared dead at %s, before the Lease plus margin ran out at %s", rec.DetectedAt.Time, earliest)
	}
	if n2 := f.node(ctx, f.node2); n2.Spec.Unschedulable {
		t.Errorf("the healthy node was cordoned")
	}

	f.runPod(t, ctx, "iris-b", f.node2)
	eventually(t, ctx, "the failover completed", func(ctx context.Context) bool {
		st := f.instance(ctx).Status
		return st.LastFailover != nil && st.LastFailover.ReadyAt != nil && st.Failovers == 1 && st.Fencing == v1alpha1.FencingHealthy
	})
	checkDurationRecorded(t, f.instance(ctx).Status.LastFailover, reg)

	if !f.cordonedByIrisha(ctx, f.node1) {
		t.Fatalf("the node was uncordoned before its kubelet renewed its node Lease")
	}
	if n := f.node(ctx, f.node1); n.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("the node went NotReady: %+v", n.Status.Conditions)
	}
	kubeletBack(t, ctx, f.node1)
	eventually(t, ctx, "the node uncordoned once back", func(ctx context.Context) bool { return f.givenBack(ctx, f.node1) })
}

// TestNothingWhileTheLeaseIsRenewed: a node reported NotReady whose agent
// still renews (a control-plane hiccup, not a dead node) is only suspect.
func TestNothingWhileTheLeaseIsRenewed(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, ctx)
	startOperator(t, ns, nil)
	f := newFixture(t, ctx, ns, v1alpha1.FailoverLease)
	setNodeReady(t, ctx, f.node1, corev1.ConditionUnknown)
	eventually(t, ctx, "the verdict Suspect", func(ctx context.Context) bool { return f.instance(ctx).Status.Fencing == v1alpha1.FencingSuspect })
	until := time.Now().Add(3 * leaseDuration)
	for time.Now().Before(until) {
		if err := f.renew(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(leaseDuration / 5)
	}
	if f.podGone(ctx) || f.attachmentGone(ctx) || f.node(ctx, f.node1).Spec.Unschedulable || f.instance(ctx).Status.LastFailover != nil {
		t.Fatalf("the operator fenced a pod whose agent renews its Lease")
	}
}

// TestOffModeDoesNothing: in mode Off the verdict is shown, and Kubernetes'
// defaults apply: the pod, the node and the attachment stay as they are.
func TestOffModeDoesNothing(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, ctx)
	startOperator(t, ns, nil)
	f := newFixture(t, ctx, ns, v1alpha1.FailoverOff)
	setNodeReady(t, ctx, f.node1, corev1.ConditionUnknown)
	eventually(t, ctx, "the verdict ConfirmedDead", func(ctx context.Context) bool {
		return f.instance(ctx).Status.Fencing == v1alpha1.FencingConfirmedDead
	})
	if f.podGone(ctx) || f.attachmentGone(ctx) || f.node(ctx, f.node1).Spec.Unschedulable || f.lease(ctx).Spec.HolderIdentity == nil || f.instance(ctx).Status.LastFailover != nil {
		t.Fatalf("mode Off acted")
	}
}

// TestRestartedOperatorFinishesTheFailover: the operator dies after it
// recorded the failover and took the first step; a new one, with no memory
// and a Lease that looks fresh to it, finishes from status.lastFailover.
func TestRestartedOperatorFinishesTheFailover(t *testing.T) {
	ctx := t.Context()
	var deletes atomic.Int32
	crash := errors.New("operator killed before deleting the pod")
	ns := newNamespace(t, ctx)
	stop := startOperator(t, ns, &interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if _, ok := obj.(*corev1.Pod); ok {
				deletes.Add(1)
				return crash
			}
			return c.Delete(ctx, obj, opts...)
		},
	})
	f := newFixture(t, ctx, ns, v1alpha1.FailoverLease)
	eventually(t, ctx, "the failover recorded and the node cordoned", func(ctx context.Context) bool {
		return f.instance(ctx).Status.LastFailover != nil && f.node(ctx, f.node1).Spec.Unschedulable && deletes.Load() > 0
	})
	stop()
	if f.podGone(ctx) {
		t.Fatal("the pod is gone although the first operator could not delete it")
	}

	startOperator(t, ns, nil)
	eventually(t, ctx, "the failover finished by the new operator", f.fenced)
	eventually(t, ctx, "status.lastFailover.fencedAt", f.fencedRecorded)
	if st := f.instance(ctx).Status; st.Failovers != 1 || st.LastFailover.FencedAt == nil {
		t.Errorf("failovers %d, record %+v: the restart started a second failover or lost the first", st.Failovers, st.LastFailover)
	}
}

// TestNodeShutdownWaitsForTheFenceAgent: in mode NodeShutdown an expired
// Lease on a NotReady node is not enough; only once the fence agent
// confirms the node off does the operator taint it out-of-service (and
// leave the attachment to Kubernetes' force detach), force-delete the pod
// and hand the Lease over; the taint goes once the node is back: Ready, its
// kubelet renewing its node Lease.
func TestNodeShutdownWaitsForTheFenceAgent(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, ctx)
	startOperator(t, ns, nil)
	f := newFixture(t, ctx, ns, v1alpha1.FailoverNodeShutdown)
	setNodeReady(t, ctx, f.node1, corev1.ConditionUnknown)

	eventually(t, ctx, "the verdict Suspect, awaiting shutdown", func(ctx context.Context) bool {
		st := f.instance(ctx).Status
		return st.Fencing == v1alpha1.FencingSuspect && time.Since(f.renewedAt) > leaseDuration+fencing.DefaultTiming().SkewMargin
	})
	time.Sleep(time.Second) // a few more reconciles of an expired Lease
	if f.podGone(ctx) || hasOutOfService(f.node(ctx, f.node1)) || f.lease(ctx).Spec.HolderIdentity == nil || f.instance(ctx).Status.LastFailover != nil {
		t.Fatal("mode NodeShutdown acted before the node was confirmed off")
	}

	n := f.node(ctx, f.node1)
	patch := client.MergeFrom(n.DeepCopy())
	metav1.SetMetaDataAnnotation(&n.ObjectMeta, v1alpha1.AnnotationNodeFenced, "true") // the fence agent's word
	if err := env.Client.Patch(ctx, n, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the node tainted out-of-service, the pod deleted, the Lease handed over", func(ctx context.Context) bool {
		n := f.node(ctx, f.node1)
		return hasOutOfService(n) && n.Annotations[v1alpha1.AnnotationOutOfService] == "true" && f.podGone(ctx) && f.lease(ctx).Spec.HolderIdentity == nil
	})
	if rec := f.instance(ctx).Status.LastFailover; rec == nil || rec.Reason != fencing.ReasonNodeShutdown {
		t.Fatalf("status.lastFailover = %+v", rec)
	}
	if f.attachmentGone(ctx) || f.node(ctx, f.node1).Spec.Unschedulable {
		t.Error("with the out-of-service taint the attach/detach controller detaches: irisha must not delete the attachment or cordon")
	}

	f.runPod(t, ctx, "iris-b", f.node2)
	eventually(t, ctx, "the failover completed", func(ctx context.Context) bool {
		st := f.instance(ctx).Status
		return st.LastFailover != nil && st.LastFailover.ReadyAt != nil && st.Failovers == 1
	})
	if !hasOutOfService(f.node(ctx, f.node1)) {
		t.Fatal("the taint went before the node came back")
	}
	// Powered on again: the kubelet renews first, then reports Ready.
	kubeletBack(t, ctx, f.node1)
	consistently(t, ctx, "the taint kept while the node is not Ready", fencing.DefaultTiming().TidyRecheck()+time.Second, func(ctx context.Context) bool {
		return hasOutOfService(f.node(ctx, f.node1))
	})
	setNodeReady(t, ctx, f.node1, corev1.ConditionTrue)
	eventually(t, ctx, "the taint removed once the node is back", func(ctx context.Context) bool {
		n := f.node(ctx, f.node1)
		return !hasOutOfService(n) && n.Annotations[v1alpha1.AnnotationOutOfService] == ""
	})
}

func hasOutOfService(n *corev1.Node) bool {
	return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
		return t.Key == corev1.TaintNodeOutOfService && t.Effect == corev1.TaintEffectNoExecute
	})
}

// TestEveryInstanceOfALostNode: eight instances on one node that dies fail
// over together, their operator patching that one node concurrently from a
// cache that lags behind its own writes. Each is fenced; the node is
// cordoned once, by irisha; every instance's volume, and only theirs, is
// released from the node: another workload's volume stays in use, and so
// does one that its kubelet reports just before irisha's first release
// lands (the release must not write back the list it read).
func TestEveryInstanceOfALostNode(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, ctx)
	node1, node2 := ns+"-node-1", ns+"-node-2"
	createNodes(t, ctx, ns, node1, node2)
	const (
		otherVolume = corev1.UniqueVolumeName("kubernetes.io/csi/" + driver + "^someone-elses")
		lateVolume  = corev1.UniqueVolumeName("kubernetes.io/csi/" + driver + "^mounted-meanwhile")
	)
	n := &corev1.Node{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: node1}, n); err != nil {
		t.Fatal(err)
	}
	n.Status.VolumesInUse = []corev1.UniqueVolumeName{otherVolume}
	if err := env.Client.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	var fs []*fixture
	for i := range 8 {
		fs = append(fs, newInstanceOn(t, ctx, ns, fmt.Sprintf("iris-%d", i), v1alpha1.FailoverLease, node1, node2))
	}
	var raced atomic.Bool
	startOperator(t, ns, &interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if _, ok := obj.(*corev1.Node); ok && obj.GetName() == node1 && !raced.Swap(true) {
				err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
					cur := fs[0].node(ctx, node1)
					cur.Status.VolumesInUse = append(cur.Status.VolumesInUse, lateVolume)
					return env.Client.Status().Update(ctx, cur)
				})
				if err != nil {
					return err
				}
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
	for _, f := range fs {
		eventually(t, ctx, "every fencing step of "+f.inst.Name, f.fenced)
	}
	got := fs[0].node(ctx, node1)
	if want := []corev1.UniqueVolumeName{otherVolume, lateVolume}; !slices.Equal(got.Status.VolumesInUse, want) {
		t.Errorf("volumesInUse %v, want only %v", got.Status.VolumesInUse, want)
	}
	if fs[0].node(ctx, node2).Spec.Unschedulable {
		t.Error("the healthy node was cordoned")
	}
}

// checkDurationRecorded: the record's times keep their sub-second part
// through the API server, and both the record's seconds and the duration
// histogram are computed from them, not from whole seconds.
func checkDurationRecorded(t *testing.T, rec *v1alpha1.FailoverRecord, reg *prometheus.Registry) {
	t.Helper()
	if rec.DetectedAt.Nanosecond() == 0 && rec.ReadyAt.Nanosecond() == 0 {
		t.Errorf("detectedAt %s and readyAt %s read back in whole seconds", rec.DetectedAt.Format(time.RFC3339Nano), rec.ReadyAt.Format(time.RFC3339Nano))
	}
	took := rec.ReadyAt.Sub(rec.DetectedAt.Time).Seconds()
	if want := strconv.FormatFloat(took, 'f', 1, 64); rec.Seconds != want {
		t.Errorf("seconds %q, want %q (readyAt - detectedAt = %.6f s)", rec.Seconds, want, took)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "irisha_failover_duration_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 1 || math.Abs(h.GetSampleSum()-took) > 1e-6 {
			t.Errorf("duration histogram: %d samples summing to %.6f s, want one of %.6f s", h.GetSampleCount(), h.GetSampleSum(), took)
		}
		return
	}
	t.Error("no irisha_failover_duration_seconds")
}

// TestSecondFailoverRunsOnTheLease: the replacement's agent takes the
// Lease before its pod is Ready, as the real agent does, so the failover
// ends with no holder change left to wake the operator; when that agent
// stops renewing too (a second node lost), the operator must still fail
// over on the Lease's expiry, with no pod or node changing meanwhile.
func TestSecondFailoverRunsOnTheLease(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, ctx)
	startOperator(t, ns, nil)
	f := newFixture(t, ctx, ns, v1alpha1.FailoverLease)
	eventually(t, ctx, "the first failover fenced", f.fencedRecorded)

	b := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "iris-b", Labels: resources.Labels(f.inst)},
		Spec:       corev1.PodSpec{NodeName: f.node2, Containers: []corev1.Container{f.irisContainer()}},
	}
	if err := env.Client.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l := f.lease(ctx)
		l.Spec.HolderIdentity = ptr.To(fencing.Identity(b.Name, string(b.UID)))
		f.renewedAt = time.Now()
		l.Spec.RenewTime = &metav1.MicroTime{Time: f.renewedAt}
		return env.Client.Update(ctx, l)
	}); err != nil {
		t.Fatal(err)
	}
	b.Status = corev1.PodStatus{
		Phase:             corev1.PodRunning,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "iris", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
	}
	if err := env.Client.Status().Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the first failover completed", func(ctx context.Context) bool {
		rec := f.instance(ctx).Status.LastFailover
		return rec != nil && rec.ReadyAt != nil
	})
	lastRenewal := f.renewedAt

	// iris-b's agent renews no more; nothing else changes.
	eventually(t, ctx, "a second failover, of iris-b", func(ctx context.Context) bool {
		rec := f.instance(ctx).Status.LastFailover
		return rec != nil && rec.Pod == b.Name
	})
	rec := f.instance(ctx).Status.LastFailover
	if late := rec.DetectedAt.Sub(lastRenewal); late > 2*(leaseDuration+fencing.DefaultTiming().SkewMargin) {
		t.Errorf("iris-b declared dead %s after its last renewal: the operator waited for something other than the Lease", late.Round(time.Millisecond))
	}
}
