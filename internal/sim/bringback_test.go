package sim_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/irisha/irisha/internal/observe"
	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/reference"
)

// TestBringBackFinishesTheDeletion: when a killed node returns, its kubelet
// completes the eviction the dead node missed (unmount, final delete), the
// attach/detach controller detaches, and the replacement runs with the
// volume on its own node, without W1 ever breaking.
func TestBringBackFinishesTheDeletion(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w1 := observe.NewW1(labels.SelectorFromSet(labels.Set{"app": "iris"}))
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := observe.Watch(wctx, c.Clientset(), w1.Sink()); err != nil {
		t.Fatal(err)
	}
	old := deployReference(ctx, t, c, "ref", sim.LonghornClass)
	pv := pvOf(ctx, t, c, "ref")
	node := c.Node(old.Spec.NodeName)
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.WaitForPods(ctx, c.Clientset(), "ref", reference.Selector, func(pods []corev1.Pod) bool {
		for _, p := range pods {
			if p.UID == old.UID {
				return p.DeletionTimestamp != nil
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if err := node.BringBack(ctx); err != nil {
		t.Fatal(err)
	}
	pods, err := sim.WaitForPods(ctx, c.Clientset(), "ref", reference.Selector, func(pods []corev1.Pod) bool {
		return len(pods) == 1 && pods[0].UID != old.UID && sim.PodReady(&pods[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := attachedTo(ctx, t, c, pv); len(got) != 1 || got[0] != pods[0].Spec.NodeName {
		t.Fatalf("volume attached to %v, want [%s]", got, pods[0].Spec.NodeName)
	}
	if v := w1.Violations(); len(v) != 0 {
		t.Fatalf("W1 violated: %+v", v)
	}
}
