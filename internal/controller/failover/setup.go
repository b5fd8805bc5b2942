package failover

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/mapping"
	"github.com/irisha/irisha/internal/resources"
)

// concurrency is how many instances are judged and fenced at once (one
// instance is never reconciled twice at once): a node loss makes every
// instance on the node due at once, and each reconcile mostly waits on the
// API server, above all for its node's batched volume release. With 10, the
// last of 30 instances on a lost node was declared dead up to 3 s after its
// Lease ran out; with 30 within a second (docs/benchmarks.md).
const concurrency = 30

// Field indexes.
const (
	indexAttachmentPV = "spec.source.persistentVolumeName"
	indexPodNode      = "spec.nodeName"
)

// SetupWithManager registers the controller, its indexes and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.leases = newLeaseClock(r.Clock)
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	for _, i := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&storagev1.VolumeAttachment{}, indexAttachmentPV, func(o client.Object) []string {
			if pv := o.(*storagev1.VolumeAttachment).Spec.Source.PersistentVolumeName; pv != nil {
				return []string{*pv}
			}
			return nil
		}},
		{&corev1.Pod{}, indexPodNode, func(o client.Object) []string { return []string{o.(*corev1.Pod).Spec.NodeName} }},
	} {
		if err := idx.IndexField(ctx, i.obj, i.field, i.fn); err != nil {
			return fmt.Errorf("indexing %T by %s: %w", i.obj, i.field, err)
		}
	}

	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.IrisInstance{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&coordinationv1.Lease{}, r.leases.handler(mapping.ByInstanceLabel), builder.WithPredicates(predicate.NewPredicateFuncs(isFencingLease))).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(mapping.ByInstanceLabel)).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.onNode), builder.WithPredicates(nodeChanged())).
		Watches(&storagev1.VolumeAttachment{}, handler.EnqueueRequestsFromMapFunc(r.onAttachment)).
		Named("failover").
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

// onNode wakes the instances with a pod on the node (giving a node back is
// the node pass's).
func (r *Reconciler) onNode(ctx context.Context, o client.Object) []reconcile.Request {
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.MatchingFields{indexPodNode: o.GetName()}, client.HasLabels{resources.LabelIrisInstance}); err != nil {
		// A cache List fails only when the index is missing: a bug, so
		// say it; the instances are still woken by their own Lease.
		ctrl.LoggerFrom(ctx).Error(err, "Listing the pods on a node", "node", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range pods.Items {
		reqs = append(reqs, mapping.ByInstanceLabel(ctx, &pods.Items[i])...)
	}
	return reqs
}

// onAttachment finds the instance of the attachment's volume through its
// claim's label.
func (r *Reconciler) onAttachment(ctx context.Context, o client.Object) []reconcile.Request {
	pvName := o.(*storagev1.VolumeAttachment).Spec.Source.PersistentVolumeName
	if pvName == nil {
		return nil
	}
	// A volume or claim that is gone (or not yet in the cache) has no
	// instance to wake: dropping it is deliberate. Any other error is
	// logged, as the instance controller does.
	pv := &corev1.PersistentVolume{}
	if err := r.Get(ctx, client.ObjectKey{Name: *pvName}, pv); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "Reading the volume of an attachment", "volumeAttachment", o.GetName(), "persistentVolume", *pvName)
		}
		return nil
	}
	if pv.Spec.ClaimRef == nil {
		return nil
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: pv.Spec.ClaimRef.Namespace, Name: pv.Spec.ClaimRef.Name}, pvc); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "Reading the claim of an attachment's volume", "volumeAttachment", o.GetName(),
				"persistentVolumeClaim", pv.Spec.ClaimRef.Namespace+"/"+pv.Spec.ClaimRef.Name)
		}
		return nil
	}
	return mapping.ByInstanceLabel(ctx, pvc)
}

// nodeChanged ignores heartbeats: only readiness, scheduling, taints,
// irisha's annotations and volumes in use matter. (That a node is back
// shows in its node Lease, which wakes nothing: see leaseClock.)
func nodeChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		oldN, okOld := e.ObjectOld.(*corev1.Node)
		newN, okNew := e.ObjectNew.(*corev1.Node)
		if !okOld || !okNew {
			return true
		}
		return nodeOf(oldN, "") != nodeOf(newN, "") ||
			!equality.Semantic.DeepEqual(oldN.Status.VolumesInUse, newN.Status.VolumesInUse)
	}}
}
