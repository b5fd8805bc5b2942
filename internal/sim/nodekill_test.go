package sim_test

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/irisha/irisha/internal/observe"
	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/reference"
)

// TestNodeKillReplacementBlockedByAttachment: with (fast) default
// behaviour, killing the node that runs the reference pod leaves the old
// pod Terminating and the replacement stuck on Multi-Attach, the volume
// still attached to the dead node, and W1 intact.
func TestNodeKillReplacementBlockedByAttachment(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 3})
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
	dead := c.Node(old.Spec.NodeName)
	if err := dead.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := sim.WaitForNode(ctx, c.Clientset(), dead.Name, sim.NodeNotReady); err != nil {
		t.Fatal(err)
	}
	// The taint manager evicts the old pod once its (shortened) default
	// toleration expires; the dead kubelet never confirms, so it stays.
	pods, err := sim.WaitForPods(ctx, c.Clientset(), "ref", reference.Selector, func(pods []corev1.Pod) bool {
		var terminating, replacement bool
		for _, p := range pods {
			terminating = terminating || (p.UID == old.UID && p.DeletionTimestamp != nil)
			replacement = replacement || (p.UID != old.UID && p.Spec.NodeName != "")
		}
		return terminating && replacement
	})
	if err != nil {
		t.Fatal(err)
	}
	var repl corev1.Pod
	for _, p := range pods {
		if p.UID != old.UID {
			repl = p
		}
	}
	if repl.Spec.NodeName == dead.Name {
		t.Fatalf("replacement scheduled on the dead node %s", dead.Name)
	}
	// The real attach/detach controller refuses to attach the RWO volume
	// elsewhere while it is attached to the dead node (Kubernetes 1.37 words
	// its Multi-Attach error "Waiting for detach ... Volume is already used
	// by pod(s) ...").
	ev, err := waitForEvent(ctx, c, "ref", repl.Name, sim.IsMultiAttachEvent)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replacement %s on %s: %s", repl.Name, repl.Spec.NodeName, ev.Message)
	if got := attachedTo(ctx, t, c, pv); !slices.Equal(got, []string{dead.Name}) {
		t.Fatalf("volume attached to %v, want only the dead node %s", got, dead.Name)
	}
	now, err := c.Clientset().CoreV1().Pods("ref").Get(ctx, repl.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if now.Status.Phase == corev1.PodRunning {
		t.Fatalf("replacement is Running although its volume is attached to the dead node")
	}
	if cs := now.Status.ContainerStatuses; len(cs) == 0 || cs[0].State.Waiting == nil || cs[0].State.Waiting.Reason != "ContainerCreating" {
		t.Fatalf("replacement should wait in ContainerCreating, status %+v", now.Status.ContainerStatuses)
	}
	gone, err := c.Clientset().CoreV1().Pods("ref").Get(ctx, old.Name, metav1.GetOptions{})
	if err != nil || gone.DeletionTimestamp == nil {
		t.Fatalf("old pod should still be Terminating: %v", err)
	}
	if v := w1.Violations(); len(v) != 0 {
		t.Fatalf("W1 violated: %+v", v)
	}
}

// waitForEvent watches the namespace's events about one object.
func waitForEvent(ctx context.Context, c *sim.Cluster, ns, name string, match func(*corev1.Event) bool) (*corev1.Event, error) {
	sel := fields.OneTermEqualSelector("involvedObject.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return c.Clientset().CoreV1().Events(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return c.Clientset().CoreV1().Events(ns).Watch(ctx, o)
		},
	}
	var found *corev1.Event
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Event{}, func(s cache.Store) (bool, error) {
		for _, o := range s.List() {
			if e := o.(*corev1.Event); match(e) {
				found = e
				return true, nil
			}
		}
		return false, nil
	}, func(ev watch.Event) (bool, error) {
		if e, ok := ev.Object.(*corev1.Event); ok && match(e) {
			found = e
			return true, nil
		}
		return false, nil
	})
	return found, err
}
