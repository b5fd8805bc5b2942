package failover

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/resources"
)

// Field indexes of the node pass, its own so it does not depend on the
// failover controller's.
const (
	indexTidyFailoverNode = "tidy.status.lastFailover.node"
	indexTidyPodNode      = "tidy.spec.nodeName"
)

// NodeReconciler is the node pass: it gives back the nodes irisha cordoned
// or tainted out-of-service once they are back (fencing.TidyNode), keyed by
// the Node, so it needs no IrisInstance. The failover of an instance gives
// its node back by the same rule; this pass is what gives back the node of
// an instance deleted in the middle of its failover, whose record went with
// it. A finalizer on the IrisInstance, kept until its node is given back,
// would do that too, but it would block the deletion of an instance whose
// node never comes back until someone removed the finalizer by hand; the
// node pass blocks nothing.
type NodeReconciler struct {
	client.Client
	// APIReader reads past the cache after a lost write race;
	// SetupWithManager takes the manager's when it is nil.
	APIReader client.Reader
	// Recorder may be nil (tests).
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Timing   fencing.Timing

	seen *leaseClock
}

// RBAC: cached reads, and the node steps of the failover controller
// (patch, and get after a lost race).
// +kubebuilder:rbac:groups=irisha.dev,resources=irisinstances,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the node pass, its indexes and its watches:
// the nodes that carry irisha's mark, and node Leases, which are timed but
// wake nothing (a marked node is looked at again every TidyRecheck).
func (r *NodeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.seen = newLeaseClock(r.Clock)
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.IrisInstance{}, indexTidyFailoverNode, func(o client.Object) []string {
		if f := o.(*v1alpha1.IrisInstance).Status.LastFailover; f != nil {
			return []string{f.Node}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing IrisInstances by their last failover's node: %w", err)
	}
	if err := idx.IndexField(ctx, &corev1.Pod{}, indexTidyPodNode, func(o client.Object) []string {
		if _, ok := o.GetLabels()[resources.LabelIrisInstance]; !ok {
			return nil
		}
		return []string{o.(*corev1.Pod).Spec.NodeName}
	}); err != nil {
		return fmt.Errorf("indexing irisha's pods by node: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Node{}, builder.WithPredicates(marked())).
		Watches(&coordinationv1.Lease{}, r.seen.handler(nil), builder.WithPredicates(predicate.NewPredicateFuncs(isNodeLease))).
		Named("failover-nodes").
		Complete(r)
}

// Reconcile gives node req back if it carries irisha's mark and is back.
func (r *NodeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	node := &corev1.Node{}
	if err := r.Get(ctx, req.NamespacedName, node); err != nil {
		if apierrors.IsNotFound(err) {
			r.seen.forgetNode(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading node %s: %w", req.Name, err)
	}
	n := nodeOf(node, "")
	if n.MarkedSince = r.seen.markedSince(node); n.MarkedSince.IsZero() {
		return ctrl.Result{}, nil
	}
	nodeLease := &coordinationv1.Lease{}
	switch err := r.Get(ctx, nodeLeaseKey(node.Name), nodeLease); {
	case err == nil:
		r.seen.observe(nodeLease)
	case !apierrors.IsNotFound(err):
		log.V(1).Info("Node Lease not readable; the node cannot be found back", "node", node.Name, "error", err.Error())
	}
	n.LeaseSeen = r.seen.renewedAt(nodeLeaseKey(node.Name))
	h, err := nodeHistory(ctx, r.Client, node.Name, indexTidyFailoverNode, indexTidyPodNode)
	if err != nil {
		return ctrl.Result{}, err
	}
	acts, waiting := fencing.TidyNode(fencing.NodeView{Now: r.Clock.Now(), Timing: r.Timing, Node: n, NodeHistory: h})
	if len(acts) == 0 {
		log.V(1).Info("Node not given back yet", "node", node.Name, "waiting", waiting)
		return ctrl.Result{RequeueAfter: r.Timing.TidyRecheck()}, nil
	}
	// The steps are the failover controller's own (act), on this node only.
	steps := &Reconciler{Client: r.Client, APIReader: r.APIReader}
	w := &world{nodes: map[string]*corev1.Node{node.Name: node}}
	for _, a := range acts {
		what, err := steps.act(ctx, w, a)
		if err != nil {
			r.event(node, corev1.EventTypeWarning, "TidyFailed", string(a.Kind), "%v", err)
			return ctrl.Result{}, fmt.Errorf("tidy step %s: %w", a.Kind, err)
		}
		log.Info("Node given back", "step", a.Kind, "detail", what)
		r.event(node, corev1.EventTypeNormal, string(a.Kind), string(a.Kind), "%s", what)
	}
	return ctrl.Result{}, nil
}

// marked lets through the events of nodes that carry irisha's mark, or
// have just lost it (so its sighting is forgotten).
func marked() predicate.Predicate {
	is := func(o client.Object) bool {
		n, ok := o.(*corev1.Node)
		return ok && markedByIrisha(n)
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return is(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return is(e.ObjectOld) || is(e.ObjectNew) },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(e event.GenericEvent) bool { return is(e.Object) },
	}
}

// nodeHistory gathers what the IrisInstances that exist tell about node:
// their last failovers that targeted it, and irisha's pods on it, each
// marked orphaned when its instance is gone (perhaps deleted in the middle
// of a failover, its record with it). failoverIndex and podIndex are the
// caller's field indexes of IrisInstances by status.lastFailover.node and
// of pods by spec.nodeName.
func nodeHistory(ctx context.Context, c client.Reader, node, failoverIndex, podIndex string) (fencing.NodeHistory, error) {
	var h fencing.NodeHistory
	insts := &v1alpha1.IrisInstanceList{}
	if err := c.List(ctx, insts, client.MatchingFields{failoverIndex: node}); err != nil {
		return h, fmt.Errorf("listing the instances that failed over from node %s: %w", node, err)
	}
	for i := range insts.Items {
		if f := insts.Items[i].Status.LastFailover; f != nil && f.Node == node {
			h.Failovers = append(h.Failovers, *failoverOf(f))
		}
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.MatchingFields{podIndex: node}, client.HasLabels{resources.LabelIrisInstance}); err != nil {
		return h, fmt.Errorf("listing irisha's pods on node %s: %w", node, err)
	}
	exists := map[client.ObjectKey]*v1alpha1.IrisInstance{}
	for i := range pods.Items {
		p := &pods.Items[i]
		key := client.ObjectKey{Namespace: p.Namespace, Name: p.Labels[resources.LabelIrisInstance]}
		inst, ok := exists[key]
		if !ok {
			inst = &v1alpha1.IrisInstance{}
			switch err := c.Get(ctx, key, inst); {
			case apierrors.IsNotFound(err):
				inst = nil
			case err != nil:
				return h, fmt.Errorf("reading IrisInstance %s: %w", key, err)
			}
			exists[key] = inst
		}
		// A pod older than its instance is one of an earlier instance of
		// the same name.
		orphaned := inst == nil || p.CreationTimestamp.Before(&inst.CreationTimestamp)
		h.Pods = append(h.Pods, fencing.NodePod{Name: p.Name, UID: string(p.UID), Orphaned: orphaned})
	}
	return h, nil
}

func (r *NodeReconciler) event(node *corev1.Node, typ, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(node, nil, typ, reason, action, note, args...)
	}
}
