package simirisha_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/proc"
)

var bins simirisha.Binaries

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "simirisha-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if !testing.Short() {
		if bins, err = simirisha.Build(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

const (
	testTimeout = 3 * time.Minute
	ns          = "db"
	instName    = "iris"
)

// TestIrishaFailover runs the real operator and agents: the pod is Ready
// only once its agent holds the fencing Lease and IRIS runs; a deleted pod
// releases the Lease on its way out and its replacement takes over, with
// one journal writer at every moment.
func TestIrishaFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b := boot(ctx, t)
	c, cl, op := b.cluster, b.client, b.operator
	cs := c.Clientset()
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}

	// Someone else holds the fencing Lease: the agent must wait, and its
	// pod must not be Ready meanwhile.
	inst := newInstance(v1alpha1.FailoverLease, 10)
	leaseName := resources.FencingLeaseName(inst)
	now := metav1.NewMicroTime(time.Now())
	if _, err := cs.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("intruder"), LeaseDurationSeconds: ptr.To[int32](600),
			AcquireTime: &now, RenewTime: &now},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	holders := watchHolders(ctx, t, cs, leaseName)
	if err := cl.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	selector := resources.LabelIrisInstance + "=" + instName
	pods, err := sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool {
		return len(p) == 1 && len(p[0].Status.ContainerStatuses) == 1 && p[0].Status.ContainerStatuses[0].State.Running != nil
	})
	if err != nil {
		t.Fatal(err)
	}
	first := pods[0]
	// The kubelet has probed the running agent and been told "not yet".
	if err := waitUnhealthy(ctx, cs, first.Name); err != nil {
		t.Fatal(err)
	}
	if p, err := cs.CoreV1().Pods(ns).Get(ctx, first.Name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if sim.PodReady(p) {
		t.Fatal("the pod is Ready while its agent waits for the fencing Lease")
	}
	if h := holderOf(ctx, t, cs, leaseName); h != "intruder" {
		t.Fatalf("Lease holder %q while the intruder holds it", h)
	}
	released := time.Now()
	setHolder(ctx, t, cs, leaseName, nil)

	pods, err = sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) })
	if err != nil {
		t.Fatal(err)
	}
	first = pods[0]
	if at := readySince(&first); at.Before(released.Truncate(time.Second)) {
		t.Fatalf("the pod became Ready at %s, before the Lease was released at %s", at, released)
	}
	if h, want := holderOf(ctx, t, cs, leaseName), identity(&first); h != want {
		t.Fatalf("Lease holder %q, want the pod %q", h, want)
	}
	dataDir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := simirisha.CheckJournal(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if w := simirisha.Writers(entries); len(w) != 1 {
		t.Fatalf("journal writers %v after the first start, want one", w)
	}
	b.daemons = append(b.daemons, entries[0].PID)

	// The operator dies and comes back; the instance is not touched.
	oldOp := op.PID()
	if err := op.Kill(); err != nil {
		t.Fatal(err)
	}
	if proc.Alive(oldOp) {
		t.Fatalf("operator %d alive after Kill", oldOp)
	}
	if err := op.Start(ctx); err != nil {
		t.Fatal(err)
	}

	// Failover by deletion: the agent stops IRIS cleanly and releases the
	// Lease; the replacement takes it at once.
	if err := c.DeletePod(ctx, ns, first.Name); err != nil {
		t.Fatal(err)
	}
	pods, err = sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool {
		return len(p) == 1 && p[0].UID != first.UID && sim.PodReady(&p[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	second := pods[0]
	if h, want := holderOf(ctx, t, cs, leaseName), identity(&second); h != want {
		t.Fatalf("Lease holder %q, want the replacement %q", h, want)
	}
	// Holders seen: intruder, released, first pod, released (clean stop,
	// not expiry), replacement.
	want := []string{"intruder", "", identity(&first), "", identity(&second)}
	if got := holders.seen(); !slices.Equal(got, want) {
		t.Fatalf("Lease holders %q, want %q", got, want)
	}
	entries, err = simirisha.CheckJournal(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	w := simirisha.Writers(entries)
	b.daemons = append(b.daemons, w...)
	if len(w) != 2 {
		t.Fatalf("journal writers %v, want the first instance then the replacement's", w)
	}
	if proc.Alive(w[0]) {
		t.Fatalf("the first IRIS instance (pid %d) still runs after its pod was deleted", w[0])
	}
	t.Logf("pods %s on %s then %s on %s; %d journal entries", first.Name, first.Spec.NodeName, second.Name, second.Spec.NodeName, len(entries))
}

// booted is a simulated cluster (fast timings, 3 nodes) running irisha's
// operator, with irisha pods run by the real agent and the fake IRIS.
type booted struct {
	cluster  *sim.Cluster
	client   client.Client
	operator *simirisha.Operator
	// daemons are fake IRIS instances the test saw: they are not in
	// cluster.PIDs() and must die with the cluster too.
	daemons []int
}

func boot(ctx context.Context, t *testing.T) *booted {
	t.Helper()
	return bootWith(ctx, t, false)
}

// bootWith boots the cluster, with the node witnesses running (their
// DaemonSet) and the operator waiting for them when witnesses is set.
func bootWith(ctx context.Context, t *testing.T, witnesses bool) *booted {
	t.Helper()
	return bootOperator(ctx, t, witnesses, simirisha.OperatorOptions{})
}

// bootOperator is bootWith with the operator's options.
func bootOperator(ctx context.Context, t *testing.T, witnesses bool, opts simirisha.OperatorOptions) *booted {
	t.Helper()
	return bootRunner(ctx, t, witnesses, opts, simirisha.RunnerOptions{})
}

// bootRunner is bootOperator with the pods' runner options.
func bootRunner(ctx context.Context, t *testing.T, witnesses bool, opts simirisha.OperatorOptions, ropts simirisha.RunnerOptions) *booted {
	t.Helper()
	c, err := sim.Start(ctx, sim.Options{
		Nodes: 3, Timings: sim.FastTimings(), Log: testr.New(t),
		KeepWorkDir: os.Getenv("IRISHA_SIM_KEEP") != "",
		Runner:      simirisha.Runner(bins, ropts),
	})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	b := &booted{cluster: c}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the sim: %v", err)
		}
		for _, pid := range append(c.PIDs(), b.daemons...) {
			if proc.Alive(pid) {
				t.Errorf("process %d is alive after Stop", pid)
			}
		}
	})
	if witnesses {
		if err := simirisha.StartWitnesses(ctx, c); err != nil {
			t.Fatal(err)
		}
		opts.Args = append(opts.Args, "--witness-namespace="+simirisha.WitnessNamespace)
	}
	if b.operator, err = simirisha.StartOperator(ctx, c, bins, opts); err != nil {
		t.Fatal(err)
	}
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if b.client, err = client.New(c.RESTConfig(), client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	return b
}

// newInstance is instance instName in namespace ns on class longhorn.
func newInstance(mode v1alpha1.FailoverMode, leaseSeconds int32) *v1alpha1.IrisInstance {
	return &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: instName},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    "iris:sim",
			Storage:  v1alpha1.StorageSpec{ClassName: ptr.To(sim.LonghornClass), Size: resource.MustParse("1Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: mode, LeaseDurationSeconds: leaseSeconds},
		},
	}
}

func identity(p *corev1.Pod) string { return p.Name + "_" + string(p.UID) }

func readySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

func holderOf(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	l, err := cs.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

func setHolder(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string, holder *string) {
	t.Helper()
	l, err := cs.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.HolderIdentity = holder
	if _, err := cs.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// holderLog records every distinct holder of a Lease, in order.
type holderLog struct {
	mu      sync.Mutex
	holders []string
}

func (h *holderLog) add(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.holders); n == 0 || h.holders[n-1] != s {
		h.holders = append(h.holders, s)
	}
}

func (h *holderLog) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.holders...)
}

func watchHolders(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) *holderLog {
	t.Helper()
	log := &holderLog{}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
			return cs.CoordinationV1().Leases(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
			return cs.CoordinationV1().Leases(ns).Watch(ctx, o)
		},
	}
	synced := make(chan struct{})
	go func() {
		_, _ = watchtools.UntilWithSync(ctx, lw, &coordinationv1.Lease{}, func(s cache.Store) (bool, error) {
			for _, o := range s.List() {
				log.add(ptr.Deref(o.(*coordinationv1.Lease).Spec.HolderIdentity, ""))
			}
			close(synced)
			return false, nil
		}, func(e watch.Event) (bool, error) {
			if l, ok := e.Object.(*coordinationv1.Lease); ok && e.Type != watch.Deleted {
				log.add(ptr.Deref(l.Spec.HolderIdentity, ""))
			}
			return false, nil
		})
	}()
	select {
	case <-synced:
	case <-ctx.Done():
		t.Fatal("the Lease watch did not sync")
	}
	return log
}

// waitUnhealthy watches the pod's events until the kubelet reports a
// failed probe.
func waitUnhealthy(ctx context.Context, cs kubernetes.Interface, pod string) error {
	sel := fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.name", pod),
		fields.OneTermEqualSelector("reason", "Unhealthy"),
	).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return cs.CoreV1().Events(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return cs.CoreV1().Events(ns).Watch(ctx, o)
		},
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Event{}, func(s cache.Store) (bool, error) {
		return len(s.List()) > 0, nil
	}, func(e watch.Event) (bool, error) { return e.Type == watch.Added || e.Type == watch.Modified, nil })
	if err != nil {
		return fmt.Errorf("waiting for a failed probe of pod %s: %w", pod, err)
	}
	return nil
}
