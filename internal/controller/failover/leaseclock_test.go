package failover

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/mapping"
	"github.com/irisha/irisha/internal/resources"
)

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func nodeLease(node string, renew time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: node},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), RenewTime: &metav1.MicroTime{Time: renew}},
	}
}

// A node Lease's renewal counts from when the operator saw it arrive; the
// first sight of a Lease, whose renew time may be minutes old, does not.
func TestNodeLeaseRenewalsAreTimedOnArrival(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(start)
	c := newLeaseClock(clk)
	key := nodeLeaseKey("node-1")
	kubelet := start.Add(-time.Hour) // the kubelet's clock is an hour behind

	c.observe(nodeLease("node-1", kubelet))
	if got := c.renewedAt(key); !got.IsZero() {
		t.Fatalf("first sight counted as a renewal at %s", got)
	}
	clk.SetTime(start.Add(3 * time.Second))
	c.observe(nodeLease("node-1", kubelet.Add(10*time.Second)))
	if got := c.renewedAt(key); !got.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("renewal seen at %s, want %s", got, start.Add(3*time.Second))
	}
	clk.SetTime(start.Add(5 * time.Second))
	c.observe(nodeLease("node-1", kubelet.Add(10*time.Second)))
	if got := c.renewedAt(key); !got.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("the same renewal seen again moved to %s", got)
	}
	c.forgetNode("node-1")
	c.observe(nodeLease("node-1", kubelet.Add(20*time.Second)))
	if got := c.renewedAt(key); !got.IsZero() {
		t.Fatalf("first sight after forgetting counted as a renewal at %s", got)
	}
}

// Node Leases are timed by the watch but never wake a reconcile; fencing
// Leases wake one on creation, deletion and holder changes only; other
// Leases are filtered out before any handler sees them.
func TestLeaseHandlers(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(start)
	c := newLeaseClock(clk)
	ctx := t.Context()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	woken := func() int {
		n := q.Len()
		for q.Len() > 0 {
			req, _ := q.Get()
			q.Done(req)
			q.Forget(req)
		}
		return n
	}
	fencing, nodes := c.handler(mapping.ByInstanceLabel), c.handler(nil)

	old, renewed := nodeLease("node-1", start), nodeLease("node-1", start.Add(10*time.Second))
	if !isNodeLease(old) || isFencingLease(old) {
		t.Fatal("a node Lease is not told from a fencing Lease")
	}
	nodes.Create(ctx, event.CreateEvent{Object: old}, q)
	nodes.Update(ctx, event.UpdateEvent{ObjectOld: old, ObjectNew: renewed}, q)
	if n := woken(); n != 0 {
		t.Errorf("a node Lease woke %d reconciles", n)
	}
	if c.renewedAt(nodeLeaseKey("node-1")).IsZero() {
		t.Error("the node Lease's renewal was not timed")
	}
	nodes.Delete(ctx, event.DeleteEvent{Object: renewed}, q)
	if n := woken(); n != 0 {
		t.Errorf("a node Lease's deletion woke %d reconciles", n)
	}

	fencingLease := func(holder string, renew time.Time) *coordinationv1.Lease {
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "iris-fencing", Labels: map[string]string{resources.LabelIrisInstance: "iris"}},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), RenewTime: &metav1.MicroTime{Time: renew}},
		}
	}
	a := fencingLease("iris-a_uid-a", start)
	fencing.Create(ctx, event.CreateEvent{Object: a}, q)
	if n := woken(); n != 1 {
		t.Errorf("a fencing Lease's creation woke %d reconciles, want 1", n)
	}
	clk.SetTime(start.Add(2 * time.Second))
	fencing.Update(ctx, event.UpdateEvent{ObjectOld: a, ObjectNew: fencingLease("iris-a_uid-a", start.Add(2*time.Second))}, q)
	if n := woken(); n != 0 {
		t.Errorf("a fencing Lease's renewal woke %d reconciles", n)
	}
	if got := c.renewedAt(client.ObjectKeyFromObject(a)); !got.Equal(start.Add(2 * time.Second)) {
		t.Errorf("the renewal was timed at %s, want when it arrived", got)
	}
	fencing.Update(ctx, event.UpdateEvent{ObjectOld: a, ObjectNew: fencingLease("iris-b_uid-b", start.Add(3*time.Second))}, q)
	if n := woken(); n != 1 {
		t.Errorf("a fencing Lease's new holder woke %d reconciles, want 1", n)
	}

	other := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-scheduler"}}
	if isFencingLease(other) || isNodeLease(other) {
		t.Error("another Lease passes a filter")
	}
}

// irisha's mark is timed from its first sighting, forgotten once gone, and
// timed afresh when it comes again.
func TestMarkedSince(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(start)
	c := newLeaseClock(clk)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	if got := c.markedSince(n); !got.IsZero() {
		t.Fatalf("an unmarked node marked since %s", got)
	}
	n.Annotations = map[string]string{v1alpha1.AnnotationCordoned: "true"}
	c.markedSince(n)
	clk.SetTime(start.Add(time.Minute))
	if got := c.markedSince(n); !got.Equal(start) {
		t.Fatalf("marked since %s, want its first sighting %s", got, start)
	}
	n.Annotations = map[string]string{v1alpha1.AnnotationOutOfService: "true"} // the taint alone marks it too
	if got := c.markedSince(n); !got.Equal(start) {
		t.Fatalf("marked since %s, want %s", got, start)
	}
	n.Annotations = nil
	c.markedSince(n)
	n.Annotations = map[string]string{v1alpha1.AnnotationCordoned: "true"}
	if got := c.markedSince(n); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("a new mark timed from %s, want %s", got, start.Add(time.Minute))
	}
}

// nodeHistory: the last failovers that targeted the node, and irisha's pods
// on it, orphaned when their instance is gone or newer than they are.
func TestNodeHistory(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	inst := func(name, node string, created time.Time) *v1alpha1.IrisInstance {
		i := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: metav1.NewTime(created)}}
		if node != "" {
			i.Status.LastFailover = &v1alpha1.FailoverRecord{Node: node, Pod: name + "-a", PodUID: "uid-" + name, DetectedAt: metav1.NewMicroTime(start), ReadyAt: ptr.To(metav1.NewMicroTime(start))}
		}
		return i
	}
	pod := func(name, instance, node string, created time.Time) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-pod-" + name), CreationTimestamp: metav1.NewTime(created), Labels: map[string]string{resources.LabelIrisInstance: instance}},
			Spec:       corev1.PodSpec{NodeName: node},
		}
	}
	objs := []client.Object{
		inst("here", "node-1", start.Add(-time.Hour)),
		inst("elsewhere", "node-2", start.Add(-time.Hour)),
		inst("recreated", "", start),
		pod("of-here", "here", "node-1", start),
		pod("of-gone", "gone", "node-1", start),
		pod("of-recreated", "recreated", "node-1", start.Add(-time.Hour)),
		pod("of-here-elsewhere", "here", "node-2", start),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "not-irishas"}, Spec: corev1.PodSpec{NodeName: "node-1"}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&v1alpha1.IrisInstance{}, indexTidyFailoverNode, func(o client.Object) []string {
			if f := o.(*v1alpha1.IrisInstance).Status.LastFailover; f != nil {
				return []string{f.Node}
			}
			return nil
		}).
		WithIndex(&corev1.Pod{}, indexTidyPodNode, func(o client.Object) []string { return []string{o.(*corev1.Pod).Spec.NodeName} }).
		Build()
	h, err := nodeHistory(context.Background(), c, "node-1", indexTidyFailoverNode, indexTidyPodNode)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Failovers) != 1 || h.Failovers[0].Pod != "here-a" || !h.Failovers[0].Done {
		t.Errorf("failovers %+v, want only that of instance here, done", h.Failovers)
	}
	orphaned := map[string]bool{}
	for _, p := range h.Pods {
		orphaned[p.Name] = p.Orphaned
	}
	want := map[string]bool{"of-here": false, "of-gone": true, "of-recreated": true}
	if len(orphaned) != len(want) {
		t.Errorf("pods %+v, want %v", h.Pods, want)
	}
	for name, o := range want {
		if got, ok := orphaned[name]; !ok || got != o {
			t.Errorf("pod %s: listed %v, orphaned %v; want orphaned %v", name, ok, got, o)
		}
	}
}
