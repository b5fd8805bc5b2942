package simirisha_test

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/observe"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

// TestControlPlaneOutageStopsNothing: with the node witnesses running, the
// API server out of reach of every node and of the operator (cut, then
// frozen), each for four Lease durations, stops no IRIS, fails nothing
// over and cordons no node, during the outage or after it.
func TestControlPlaneOutageStopsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, true)
	c, inst, pod := r.b.cluster, r.inst, r.pod

	outage := 4 * time.Duration(inst.Spec.Failover.LeaseDurationSeconds) * time.Second
	for _, o := range []struct {
		name       string
		start, end func() error
	}{
		{"cut", func() error { c.CutAPIServer(); return nil }, func() error { c.HealAPIServer(); return nil }},
		{"frozen", c.FreezeAPIServer, c.ThawAPIServer},
	} {
		if err := o.start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(outage) // the outage itself: nothing to wait for
		if err := o.end(); err != nil {
			t.Fatal(err)
		}
		// Long enough for a failover, had one been decided: the Lease
		// duration and the skew margin, and the recheck.
		time.Sleep(time.Duration(inst.Spec.Failover.LeaseDurationSeconds)*time.Second + 4*time.Second)
		if now := readyOnly(ctx, t, c); now.UID != pod.UID {
			t.Fatalf("after the API server was %s: pod %s replaced by %s", o.name, pod.Name, now.Name)
		}
	}
	r.checkUntouched(ctx, t)
}

// TestIsolatedNodeFencesWithWitnesses: the node running IRIS is cut from
// the API server and from its peers: its agent hears no "cannot" and stops
// IRIS, and the instance fails over, the witnesses allowing it at once.
func TestIsolatedNodeFencesWithWitnesses(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, true)
	c, inst, first := r.b.cluster, r.inst, r.pod
	c.Node(first.Spec.NodeName).Partition()
	second := readyOnly(ctx, t, c, first.UID)
	checkFailover(ctx, t, c, r.b.client, inst, r.dataDir, first, second, &r.b.daemons)
	if v := r.w1.Violations(); len(v) > 0 {
		t.Errorf("W1 violations: %+v", v)
	}
}

// TestSplitWithTheAPIServerOnTheMinoritySide: the node running IRIS and
// one other lose the API server but still reach each other; the third
// node and the operator keep it. The agent keeps IRIS running on its
// majority's word, and the operator, one witness of three reaching the API
// server, holds the failover and says so.
func TestSplitWithTheAPIServerOnTheMinoritySide(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, true)
	c, inst, pod := r.b.cluster, r.inst, r.pod
	cut := []string{pod.Spec.NodeName}
	for _, n := range c.Nodes() {
		if len(cut) < 2 && n.Name != pod.Spec.NodeName {
			cut = append(cut, n.Name)
		}
	}
	for _, n := range cut {
		c.Node(n).PartitionFromAPIServer()
	}
	held := func(ctx context.Context) bool {
		got := &v1alpha1.IrisInstance{}
		return r.b.client.Get(ctx, client.ObjectKeyFromObject(inst), got) == nil && conditionTrue(got, v1alpha1.ConditionFailoverHeld)
	}
	if err := poll(ctx, held); err != nil {
		t.Fatalf("waiting for the failover to be held (condition %s): %v", v1alpha1.ConditionFailoverHeld, err)
	}
	time.Sleep(2 * time.Duration(inst.Spec.Failover.LeaseDurationSeconds) * time.Second)
	for _, n := range cut {
		c.Node(n).Heal()
	}
	time.Sleep(time.Duration(inst.Spec.Failover.LeaseDurationSeconds)*time.Second + 4*time.Second)
	r.checkUntouched(ctx, t)
}

// running is an instance of a booted cluster, Ready, watched for W1.
type running struct {
	b       *booted
	inst    *v1alpha1.IrisInstance
	w1      *observe.W1
	pod     corev1.Pod
	dataDir string
}

// deployRunning boots a cluster (with the node witnesses if witnesses,
// and then waits until the agent has read them) and runs an instance.
func deployRunning(ctx context.Context, t *testing.T, witnesses bool) *running {
	t.Helper()
	r := &running{b: bootWith(ctx, t, witnesses)}
	r.inst, r.w1 = deployWatched(ctx, t, r.b, v1alpha1.FailoverLease, observe.Running)
	r.pod = readyOnly(ctx, t, r.b.cluster)
	var err error
	if r.dataDir, err = simirisha.DataDir(ctx, r.b.cluster, r.inst); err != nil {
		t.Fatal(err)
	}
	if witnesses {
		waitMirror(ctx, t, r.b.client, r.pod)
	}
	return r
}

// checkUntouched: the same pod still runs the one IRIS that ever wrote,
// nothing failed over, no node is cordoned, and W1 held.
func (r *running) checkUntouched(ctx context.Context, t *testing.T) {
	t.Helper()
	if now := readyOnly(ctx, t, r.b.cluster); now.UID != r.pod.UID {
		t.Errorf("pod %s replaced by %s", r.pod.Name, now.Name)
	}
	entries, err := simirisha.CheckJournal(r.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	r.b.daemons = append(r.b.daemons, simirisha.Writers(entries)...)
	if w := simirisha.Writers(entries); len(w) != 1 {
		t.Errorf("journal writers %v: IRIS was stopped and started again", w)
	}
	got := &v1alpha1.IrisInstance{}
	if err := r.b.client.Get(ctx, client.ObjectKeyFromObject(r.inst), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Failovers != 0 {
		t.Errorf("%d failovers: %+v", got.Status.Failovers, got.Status.LastFailover)
	}
	nodes := &corev1.NodeList{}
	if err := r.b.client.List(ctx, nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			t.Errorf("node %s is cordoned", n.Name)
		}
	}
	if v := r.w1.Violations(); len(v) > 0 {
		t.Errorf("W1 violations: %+v", v)
	}
}

// readyOnly waits for the instance's single pod to be Ready, not one of
// not, and returns it.
func readyOnly(ctx context.Context, t *testing.T, c *sim.Cluster, not ...types.UID) corev1.Pod {
	t.Helper()
	pods, err := sim.WaitForPods(ctx, c.Clientset(), ns, resources.LabelIrisInstance+"="+instName, func(p []corev1.Pod) bool {
		return len(p) == 1 && !slices.Contains(not, p[0].UID) && sim.PodReady(&p[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	return pods[0]
}

// waitMirror waits until the operator has mirrored the witnesses into the
// instance's namespace, and until pod's agent has read them: at its start
// if the mirror is older than the pod, else at its next read (every 10 s).
func waitMirror(ctx context.Context, t *testing.T, cl client.Client, pod corev1.Pod) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	err := poll(ctx, func(ctx context.Context) bool {
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: instName + "-witnesses"}, cm) == nil
	})
	if err != nil {
		t.Fatalf("waiting for the witnesses' mirror: %v", err)
	}
	if !cm.CreationTimestamp.Before(&pod.CreationTimestamp) {
		time.Sleep(11 * time.Second)
	}
}

func poll(ctx context.Context, cond func(context.Context) bool) error {
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) { return cond(ctx), nil })
}

func conditionTrue(inst *v1alpha1.IrisInstance, typ string) bool {
	for _, c := range inst.Status.Conditions {
		if c.Type == typ {
			return c.Status == "True"
		}
	}
	return false
}

// TestRepeatedShortPartitionsStopNothing: the node running IRIS is cut off
// (from the API server and its peers) for half its fence deadline, twenty
// times: no cut stops IRIS, nothing fails over.
func TestRepeatedShortPartitionsStopNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, false)
	inst, pod := r.inst, r.pod
	lease := time.Duration(inst.Spec.Failover.LeaseDurationSeconds) * time.Second
	half := (lease - lease/5) / 2 // the default safety margin is a fifth
	node := r.b.cluster.Node(pod.Spec.NodeName)
	for range 20 {
		node.Partition()
		time.Sleep(half) // the cut itself
		node.Heal()
		time.Sleep(lease / 2) // renewed, and a renewal cadence into the next
	}
	r.checkUntouched(ctx, t)
}

// TestInstanceDeletedMidFailoverGivesItsNodeBack: the node running IRIS is
// killed, the instance is deleted once the failover has begun, and the node
// comes back: it is uncordoned although no instance remembers the failover.
func TestInstanceDeletedMidFailoverGivesItsNodeBack(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b := boot(ctx, t)
	c, cl := b.cluster, b.client
	inst, _ := deployWatched(ctx, t, b, v1alpha1.FailoverLease, observe.Running)
	pod := readyOnly(ctx, t, c)
	node := c.Node(pod.Spec.NodeName)
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	err := poll(ctx, func(ctx context.Context) bool {
		got := &v1alpha1.IrisInstance{}
		n := &corev1.Node{}
		return cl.Get(ctx, client.ObjectKeyFromObject(inst), got) == nil && got.Status.LastFailover != nil &&
			cl.Get(ctx, client.ObjectKey{Name: node.Name}, n) == nil && n.Spec.Unschedulable
	})
	if err != nil {
		t.Fatalf("waiting for the failover to cordon %s: %v", node.Name, err)
	}
	if err := cl.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if err := node.BringBack(ctx); err != nil {
		t.Fatal(err)
	}
	waitUncordoned(ctx, t, cl, node.Name)
}
