package failover_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
)

// TestNodeGivenBackOnlyOnceItsKubeletRenews: two nodes lose their
// instances' agents for longer than the fencing Lease but shorter than the
// node controller's grace period, so neither ever goes NotReady. Both are
// cordoned and their instances fail over to a spare node. The node whose
// kubelet then renews its node Lease is uncordoned; the one whose kubelet
// renewed only before its failover stays cordoned.
func TestNodeGivenBackOnlyOnceItsKubeletRenews(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, ctx)
	back, silent, spare := ns+"-node-back", ns+"-node-silent", ns+"-node-spare"
	createNodes(t, ctx, ns, back, silent, spare)
	a := newInstanceOn(t, ctx, ns, "iris-a", v1alpha1.FailoverLease, back, spare)
	b := newInstanceOn(t, ctx, ns, "iris-b", v1alpha1.FailoverLease, silent, spare)
	startOperator(t, ns, nil)
	// The silent node's kubelet renews once more before the failover: that
	// renewal must not count.
	if err := renewNodeLease(ctx, silent); err != nil {
		t.Fatal(err)
	}

	for _, f := range []*fixture{a, b} {
		eventually(t, ctx, "every fencing step of "+f.inst.Name, f.fenced)
		f.runPod(t, ctx, f.inst.Name+"-b", spare)
	}
	for _, f := range []*fixture{a, b} {
		eventually(t, ctx, "the failover of "+f.inst.Name+" completed", func(ctx context.Context) bool {
			rec := f.instance(ctx).Status.LastFailover
			return rec != nil && rec.ReadyAt != nil
		})
	}
	for _, node := range []string{back, silent} {
		if !a.cordonedByIrisha(ctx, node) {
			t.Fatalf("node %s was uncordoned before its kubelet renewed its node Lease", node)
		}
		if n := a.node(ctx, node); n.Status.Conditions[0].Status != corev1.ConditionTrue {
			t.Fatalf("node %s went NotReady: %+v", node, n.Status.Conditions)
		}
	}

	kubeletBack(t, ctx, back)
	eventually(t, ctx, "the node whose kubelet renews uncordoned", func(ctx context.Context) bool { return a.givenBack(ctx, back) })
	consistently(t, ctx, "the silent node kept cordoned", fencing.DefaultTiming().TidyRecheck()+time.Second, func(ctx context.Context) bool {
		return b.cordonedByIrisha(ctx, silent)
	})
	if a.node(ctx, spare).Spec.Unschedulable {
		t.Error("the spare node was cordoned")
	}
}

// TestInstanceDeletedMidFailoverGivesItsNodeBack: an instance is deleted
// while its failover cannot finish (its old pod cannot be deleted), which
// takes status.lastFailover with it. Its node, cordoned by irisha, stays
// cordoned while the old pod is on it, even with its kubelet back, and is
// uncordoned by the node pass once the pod is gone.
func TestInstanceDeletedMidFailoverGivesItsNodeBack(t *testing.T) {
	ctx := t.Context()
	var deletes atomic.Int32
	ns := newNamespace(t, ctx)
	startOperator(t, ns, &interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if _, ok := obj.(*corev1.Pod); ok {
				deletes.Add(1)
				return errors.New("the API server refuses the pod's deletion")
			}
			return c.Delete(ctx, obj, opts...)
		},
	})
	f := newFixture(t, ctx, ns, v1alpha1.FailoverLease)
	eventually(t, ctx, "the failover recorded, the node cordoned, the pod's deletion failing", func(ctx context.Context) bool {
		return f.instance(ctx).Status.LastFailover != nil && f.cordonedByIrisha(ctx, f.node1) && deletes.Load() > 0
	})

	if err := env.Client.Delete(ctx, f.inst); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the instance gone", func(ctx context.Context) bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(f.inst), &v1alpha1.IrisInstance{}))
	})
	kubeletBack(t, ctx, f.node1)
	consistently(t, ctx, "the node kept cordoned while the old pod is on it", fencing.DefaultTiming().TidyRecheck()+time.Second, func(ctx context.Context) bool {
		return f.cordonedByIrisha(ctx, f.node1)
	})

	// The kubelet, back, finishes the old pod (no garbage collector runs
	// here to have asked it to).
	if err := env.Client.Delete(ctx, f.pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the node uncordoned by the node pass", func(ctx context.Context) bool { return f.givenBack(ctx, f.node1) })
}
