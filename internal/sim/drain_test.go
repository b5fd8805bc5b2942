package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/reference"
)

// TestDrainHonoursPodDisruptionBudget: a drain goes through the Eviction
// API, so a PodDisruptionBudget that allows no disruption of the single
// replica blocks it (the pod keeps running, the volume stays where it is);
// without the budget the drain moves the pod and its volume.
func TestDrainHonoursPodDisruptionBudget(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	old := deployReference(ctx, t, c, "ref", sim.LonghornClass)
	pv := pvOf(ctx, t, c, "ref")

	selector, err := metav1.ParseToLabelSelector(reference.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ref", Name: "iris"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr(intstr.FromInt32(0)), Selector: selector},
	}
	if err := c.Client().Create(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	// The disruption controller must have counted the pod before an
	// eviction is judged against the budget.
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got := &policyv1.PodDisruptionBudget{}
		if err := c.Client().Get(ctx, client.ObjectKeyFromObject(pdb), got); err != nil {
			return false, err
		}
		return got.Status.ObservedGeneration == got.Generation && got.Status.ExpectedPods == 1, nil
	})
	if err != nil {
		t.Fatalf("waiting for the disruption controller to count the pod: %v", err)
	}

	blocked, cancelBlocked := context.WithTimeout(ctx, 8*time.Second)
	err = c.Drain(blocked, old.Spec.NodeName)
	cancelBlocked()
	if err == nil || !strings.Contains(err.Error(), "disruption budget") {
		t.Fatalf("drain under a budget allowing no disruption: error %v, want a refusal naming the disruption budget", err)
	}
	still, err := c.Clientset().CoreV1().Pods("ref").Get(ctx, old.Name, metav1.GetOptions{})
	if err != nil || still.DeletionTimestamp != nil || !sim.PodReady(still) {
		t.Fatalf("the protected pod was disturbed: %v (deletion %v)", err, still.DeletionTimestamp)
	}

	if err := c.Client().Delete(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	if err := c.Drain(ctx, old.Spec.NodeName); err != nil {
		t.Fatalf("drain without a budget: %v", err)
	}
	pods, err := sim.WaitForPods(ctx, c.Clientset(), "ref", reference.Selector, func(pods []corev1.Pod) bool {
		return len(pods) == 1 && pods[0].UID != old.UID && sim.PodReady(&pods[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	if pods[0].Spec.NodeName == old.Spec.NodeName {
		t.Fatalf("the replacement was scheduled on the drained node %s", old.Spec.NodeName)
	}
	if got := attachedTo(ctx, t, c, pv); len(got) != 1 || got[0] != pods[0].Spec.NodeName {
		t.Fatalf("volume attached to %v, want [%s]", got, pods[0].Spec.NodeName)
	}
}
