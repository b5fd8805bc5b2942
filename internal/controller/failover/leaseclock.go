package failover

import (
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/irisha/irisha/internal/resources"
)

// leaseClock remembers when the operator first saw each fencing Lease's
// current holder and renew time, on its own clock, as client-go's leader
// election does: expiry then needs no agreement between the agent's clock
// and the operator's. It is fed by the watch itself, so renewals are timed
// as they arrive without a reconcile each.
type leaseClock struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	seen  map[types.NamespacedName]leaseSeen
}

type leaseSeen struct {
	holder string
	renew  time.Time
	since  time.Time
}

func newLeaseClock(c clock.PassiveClock) *leaseClock {
	return &leaseClock{clock: c, seen: map[types.NamespacedName]leaseSeen{}}
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
	c.seen[key] = leaseSeen{holder: holder, renew: renew, since: now}
	return now, !ok || prev.holder != holder
}

func (c *leaseClock) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, key)
}

// predicate times every renewal of an instance's fencing Lease but lets
// only creations, deletions and holder changes through, so renewals every
// few seconds per instance do not flood the work queue. Other Leases (node
// Leases, which the decision reads from the cache) never wake anything.
func (c *leaseClock) predicate() predicate.Predicate {
	return predicate.And(predicate.NewPredicateFuncs(isFencingLease), c.timer())
}

func isFencingLease(o client.Object) bool {
	_, ok := o.GetLabels()[resources.LabelIrisInstance]
	return ok
}

func (c *leaseClock) timer() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			if l, ok := e.Object.(*coordinationv1.Lease); ok {
				c.observe(l)
			}
			return true
		},
		UpdateFunc: func(e event.UpdateEvent) bool {
			l, ok := e.ObjectNew.(*coordinationv1.Lease)
			if !ok {
				return true
			}
			_, changed := c.observe(l)
			return changed
		},
		DeleteFunc: func(e event.DeleteEvent) bool {
			c.forget(types.NamespacedName{Namespace: e.Object.GetNamespace(), Name: e.Object.GetName()})
			return true
		},
	}
}

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
