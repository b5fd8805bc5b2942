package failover

import (
	"context"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// leaseClock remembers when the operator first saw each fencing Lease's
// current holder and renew time, on its own clock, as client-go's leader
// election does: expiry then needs no agreement between the agent's clock
// and the operator's. It is fed by the watch itself (its handler), so
// renewals are timed as they arrive without a reconcile each.
//
// It times node Leases (kube-node-lease) the same way, which tells when a
// node is back (fencing.TidyNode), and remembers when it first saw irisha's
// cordon or out-of-service mark on a node: the renewal that gives a node
// back must come after it.
type leaseClock struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	seen  map[types.NamespacedName]leaseSeen
	// marked is, per node, when irisha's mark on it was first seen.
	marked map[string]time.Time
}

type leaseSeen struct {
	holder string
	renew  time.Time
	since  time.Time
	// renewed: since is when a renewal was seen to arrive, not when the
	// Lease was first seen (by a new operator, say) with a renew time that
	// may be minutes old.
	renewed bool
}

func newLeaseClock(c clock.PassiveClock) *leaseClock {
	return &leaseClock{clock: c, seen: map[types.NamespacedName]leaseSeen{}, marked: map[string]time.Time{}}
}

// observe records l and returns since when it has been unchanged, and
// whether its holder changed (the one change worth a reconcile).
func (c *leaseClock) observe(l *coordinationv1.Lease) (since time.Time, holderChanged bool) {
	key := types.NamespacedName{Namespace: l.Namespace, Name: l.Name}
	holder, renew := holderOf(l), renewTimeOf(l)
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, ok := c.seen[key]
	if ok && prev.holder == holder && prev.renew.Equal(renew) {
		return prev.since, false
	}
	now := c.clock.Now()
	c.seen[key] = leaseSeen{holder: holder, renew: renew, since: now, renewed: ok}
	return now, !ok || prev.holder != holder
}

// renewedAt is when the operator saw the current renewal of Lease key
// arrive; zero if it has seen none since it started (or since the Lease
// was created), which proves nothing about when it was renewed.
func (c *leaseClock) renewedAt(key types.NamespacedName) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.seen[key]; ok && s.renewed {
		return s.since
	}
	return time.Time{}
}

// markedSince records whether node carries irisha's cordon or
// out-of-service mark and returns since when it has been seen so; zero
// when it carries neither. Seen later than set, it errs on the safe side:
// the renewal that gives the node back must come after it.
func (c *leaseClock) markedSince(node *corev1.Node) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !markedByIrisha(node) {
		delete(c.marked, node.Name)
		return time.Time{}
	}
	since, ok := c.marked[node.Name]
	if !ok {
		since = c.clock.Now()
		c.marked[node.Name] = since
	}
	return since
}

func (c *leaseClock) forgetNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.marked, name)
	delete(c.seen, nodeLeaseKey(name))
}

func markedByIrisha(n *corev1.Node) bool {
	return n.Annotations[v1alpha1.AnnotationCordoned] == "true" || n.Annotations[v1alpha1.AnnotationOutOfService] == "true"
}

func nodeLeaseKey(node string) types.NamespacedName {
	return types.NamespacedName{Namespace: corev1.NamespaceNodeLease, Name: node}
}

func (c *leaseClock) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, key)
}

// handler times every Lease event it is given, as an event handler rather
// than a predicate so that predicates stay filters. It enqueues, through
// wake, the creations, deletions and holder changes of the Leases it times,
// not their renewals: those come every few seconds per instance and would
// flood the work queue. With wake nil it enqueues nothing (node Leases: a
// node that is back is found by the node pass's periodic look at the nodes
// irisha marked).
func (c *leaseClock) handler(wake handler.MapFunc) handler.EventHandler {
	enqueue := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if wake == nil {
			return
		}
		for _, req := range wake(ctx, o) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if l, ok := e.Object.(*coordinationv1.Lease); ok {
				c.observe(l)
			}
			enqueue(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			l, ok := e.ObjectNew.(*coordinationv1.Lease)
			if !ok {
				enqueue(ctx, e.ObjectNew, q)
				return
			}
			if _, changed := c.observe(l); changed {
				enqueue(ctx, l, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			c.forget(types.NamespacedName{Namespace: e.Object.GetNamespace(), Name: e.Object.GetName()})
			enqueue(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
	}
}

func isFencingLease(o client.Object) bool {
	_, ok := o.GetLabels()[resources.LabelIrisInstance]
	return ok
}

func isNodeLease(o client.Object) bool { return o.GetNamespace() == corev1.NamespaceNodeLease }

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func renewTimeOf(l *coordinationv1.Lease) time.Time {
	if l.Spec.RenewTime == nil {
		return time.Time{}
	}
	return l.Spec.RenewTime.Time
}

func durationOf(l *coordinationv1.Lease, fallback time.Duration) time.Duration {
	if l.Spec.LeaseDurationSeconds == nil {
		return fallback
	}
	return time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
}
