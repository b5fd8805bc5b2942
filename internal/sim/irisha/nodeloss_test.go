package simirisha_test

import (
	"context"
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/observe"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/proc"
)

// TestNodeLossFailover: the node running IRIS is killed, then the node the
// replacement landed on is cut off from the API server. Each time the
// operator fences only after the old agent's Lease ran out, the old IRIS has
// stopped before the new agent takes the Lease, the replacement runs on a
// third node with the volume attached there, and neither the attachments,
// the pods nor the journal ever show two writers. Orderings only: the
// timings are measured by bench/failover.
func TestNodeLossFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b := boot(ctx, t)
	c, cl := b.cluster, b.client
	cs := c.Clientset()
	selector := resources.LabelIrisInstance + "=" + instName
	inst, w1 := deployWatched(ctx, t, b, v1alpha1.FailoverLease, observe.Running)
	readyPod := func(not ...types.UID) corev1.Pod {
		t.Helper()
		pods, err := sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool {
			return len(p) == 1 && !slices.Contains(not, p[0].UID) && sim.PodReady(&p[0])
		})
		if err != nil {
			t.Fatal(err)
		}
		return pods[0]
	}
	first := readyPod()
	dataDir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		t.Fatal(err)
	}
	holders := watchHolders(ctx, t, cs, resources.FencingLeaseName(inst))

	// Node kill.
	if err := c.Node(first.Spec.NodeName).Kill(); err != nil {
		t.Fatal(err)
	}
	second := readyPod(first.UID)
	checkFailover(ctx, t, c, cl, inst, dataDir, first, second, &b.daemons)

	// Partition of the replacement's node: it keeps running, cut off.
	cut := c.Node(second.Spec.NodeName)
	cut.Partition()
	third := readyPod(first.UID, second.UID)
	checkFailover(ctx, t, c, cl, inst, dataDir, second, third, &b.daemons)
	if third.Spec.NodeName == first.Spec.NodeName {
		t.Errorf("the replacement went to the killed node %s", first.Spec.NodeName)
	}

	// The partition heals: the fenced pod's agent must not come back.
	cut.Heal()
	if _, err := sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool { return len(p) == 1 }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // a few journal intervals and agent retries
	entries, err := simirisha.CheckJournal(dataDir)
	if err != nil {
		t.Fatalf("after the partition healed: %v", err)
	}
	if w := simirisha.Writers(entries); w[len(w)-1] != writerOf(t, entries, third) {
		t.Errorf("journal writers %v: the last is not the third pod's IRIS", w)
	}
	// Holders: each pod in turn, with the operator's hand-over (empty)
	// between them, never a fenced pod again.
	want := []string{identity(&first), "", identity(&second), "", identity(&third)}
	if got := holders.seen(); !slices.Equal(got, want) {
		t.Errorf("Lease holders %q, want %q", got, want)
	}
	if v := w1.Violations(); len(v) > 0 {
		t.Errorf("W1 violations: %+v", v)
	}

	// Both nodes come back usable: the healed one at once, the killed one
	// once it runs again, neither having to be seen NotReady first.
	if err := c.Node(first.Spec.NodeName).BringBack(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{first.Spec.NodeName, second.Spec.NodeName} {
		waitUncordoned(ctx, t, cl, n)
	}
	entries, err = simirisha.CheckJournal(dataDir)
	if err != nil {
		t.Fatalf("after the nodes came back: %v", err)
	}
	if w := simirisha.Writers(entries); w[len(w)-1] != writerOf(t, entries, third) {
		t.Errorf("journal writers %v after the nodes came back: the last is not the third pod's IRIS", w)
	}
}

// waitUncordoned waits until irisha has given node back: schedulable, and
// irisha's mark gone.
func waitUncordoned(ctx context.Context, t *testing.T, cl client.Client, name string) {
	t.Helper()
	err := poll(ctx, func(ctx context.Context) bool {
		n := &corev1.Node{}
		return cl.Get(ctx, client.ObjectKey{Name: name}, n) == nil && !n.Spec.Unschedulable && n.Annotations[v1alpha1.AnnotationCordoned] == ""
	})
	if err != nil {
		t.Fatalf("waiting for node %s to be given back: %v", name, err)
	}
}

// deployWatched creates instance instName in namespace ns with a 5 s Lease
// in the given failover mode, and a W1 checker of its pods (mayWrite) and
// volume that watches from before the first pod.
func deployWatched(ctx context.Context, t *testing.T, b *booted, mode v1alpha1.FailoverMode, mayWrite func(*corev1.Pod) bool) (*v1alpha1.IrisInstance, *observe.W1) {
	t.Helper()
	if err := b.cluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	w1 := observe.NewW1Writers(labels.SelectorFromSet(labels.Set{resources.LabelIrisInstance: instName}), mayWrite)
	if err := observe.Watch(ctx, b.cluster.Clientset(), w1.Sink()); err != nil {
		t.Fatal(err)
	}
	inst := newInstance(mode, 5)
	if err := b.client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	return inst, w1
}

// checkFailover asserts the orderings of one failover from old to repl.
func checkFailover(ctx context.Context, t *testing.T, c *sim.Cluster, cl client.Client, inst *v1alpha1.IrisInstance, dataDir string, old, repl corev1.Pod, daemons *[]int) {
	t.Helper()
	if repl.Spec.NodeName == old.Spec.NodeName {
		t.Fatalf("the replacement runs on the lost node %s", old.Spec.NodeName)
	}
	entries, err := simirisha.CheckJournal(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	*daemons = append(*daemons, simirisha.Writers(entries)...)
	oldPID, newPID := writerOf(t, entries, old), writerOf(t, entries, repl)
	lastOld, firstNew := lastWrite(entries, oldPID), firstWrite(entries, newPID)

	lease := &coordinationv1.Lease{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.FencingLeaseName(inst)}, lease); err != nil {
		t.Fatal(err)
	}
	acquired := lease.Spec.AcquireTime.Time
	if !lastOld.Before(acquired) {
		t.Errorf("the old IRIS wrote at %s, after the new agent acquired the Lease at %s", lastOld.Format(time.StampMilli), acquired.Format(time.StampMilli))
	}
	if firstNew.Before(acquired) {
		t.Errorf("the new IRIS wrote at %s, before its agent acquired the Lease at %s", firstNew.Format(time.StampMilli), acquired.Format(time.StampMilli))
	}

	got := &v1alpha1.IrisInstance{}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	rec := got.Status.LastFailover
	if rec == nil || rec.Pod != old.Name || rec.Node != old.Spec.NodeName || rec.FencedAt == nil {
		t.Fatalf("status.lastFailover = %+v, want the fencing of %s on %s", rec, old.Name, old.Spec.NodeName)
	}
	// The operator declared the pod dead only after the old IRIS had
	// stopped writing (microseconds in the status, hence the truncation).
	if rec.DetectedAt.Time.Before(lastOld.Truncate(time.Microsecond)) {
		t.Errorf("declared dead at %s while the old IRIS still wrote until %s", rec.DetectedAt.Time, lastOld)
	}
	node := &corev1.Node{}
	if err := cl.Get(ctx, client.ObjectKey{Name: old.Spec.NodeName}, node); err != nil {
		t.Fatal(err)
	}
	switch inst.Spec.Failover.Mode {
	case v1alpha1.FailoverNodeShutdown:
		if node.Annotations[v1alpha1.AnnotationOutOfService] != "true" || !slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool {
			return t.Key == corev1.TaintNodeOutOfService
		}) {
			t.Errorf("the lost node %s was not tainted out-of-service by irisha: %v", node.Name, node.Spec.Taints)
		}
	default:
		if !node.Spec.Unschedulable {
			t.Errorf("the lost node %s was not cordoned", node.Name)
		}
	}
	if proc.Alive(oldPID) {
		t.Errorf("the old IRIS (pid %d) still runs", oldPID)
	}
}

// writerOf finds the journal writer of pod p: the writer whose first entry
// follows the pod's creation, in order of appearance.
func writerOf(t *testing.T, entries []fakeiris.JournalEntry, p corev1.Pod) int {
	t.Helper()
	for _, pid := range simirisha.Writers(entries) {
		if !firstWrite(entries, pid).Before(p.CreationTimestamp.Time.Truncate(time.Second)) {
			return pid
		}
	}
	t.Fatalf("no journal writer started after pod %s was created", p.Name)
	return 0
}

func firstWrite(entries []fakeiris.JournalEntry, pid int) time.Time {
	for _, e := range entries {
		if e.PID == pid {
			return e.At
		}
	}
	return time.Time{}
}

func lastWrite(entries []fakeiris.JournalEntry, pid int) time.Time {
	var last time.Time
	for _, e := range entries {
		if e.PID == pid {
			last = e.At
		}
	}
	return last
}

// TestNodeShutdownFreeze: in mode NodeShutdown a frozen node is failed
// over only once the fence agent has powered it off and said so; the
// out-of-service taint lets the real attach/detach controller detach the
// volume, and since the frozen IRIS died without running again, nothing
// it had in flight reaches the journal (in mode Lease, a write the freeze
// caught lands at resume: docs/failover.md, known limits).
func TestNodeShutdownFreeze(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b := boot(ctx, t)
	c, cl := b.cluster, b.client
	cs := c.Clientset()
	selector := resources.LabelIrisInstance + "=" + instName
	// The replacement's agent runs while the frozen pod is still listed
	// Running: only Ready pods count as writers, the journal checks writes.
	inst, w1 := deployWatched(ctx, t, b, v1alpha1.FailoverNodeShutdown, observe.RunningReady)
	pods, err := sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) })
	if err != nil {
		t.Fatal(err)
	}
	first := pods[0]
	dataDir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		t.Fatal(err)
	}
	lost := c.Node(first.Spec.NodeName)
	if err := lost.Freeze(); err != nil {
		t.Fatal(err)
	}
	// The fence agent comes only after the Lease has expired: until the
	// node is confirmed off nothing may move, however long that takes.
	time.Sleep(time.Duration(inst.Spec.Failover.LeaseDurationSeconds)*time.Second + 3*time.Second)
	if p, err := cs.CoreV1().Pods(ns).Get(ctx, first.Name, metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Fatalf("the frozen node's pod was deleted before its node was confirmed off (err %v)", err)
	}
	c.StartFenceAgent(ctx, sim.FenceAgentOptions{Annotation: v1alpha1.AnnotationNodeFenced})

	pods, err = sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool {
		return len(p) == 1 && p[0].UID != first.UID && sim.PodReady(&p[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	if lost.State() != sim.NodeKilled {
		t.Fatalf("node %s is %s: failed over without being powered off", lost.Name, lost.State())
	}
	checkFailover(ctx, t, c, cl, inst, dataDir, first, pods[0], &b.daemons)
	got := &v1alpha1.IrisInstance{}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if rec := got.Status.LastFailover; rec == nil || rec.Reason != fencing.ReasonNodeShutdown {
		t.Errorf("status.lastFailover = %+v, want reason %s", rec, fencing.ReasonNodeShutdown)
	}
	time.Sleep(time.Second) // a few more journal entries of the new IRIS only
	if _, err := simirisha.CheckJournal(dataDir); err != nil {
		t.Error(err)
	}
	if v := w1.Violations(); len(v) > 0 {
		t.Errorf("W1 violations: %+v", v)
	}
}
