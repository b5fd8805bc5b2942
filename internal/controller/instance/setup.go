package instance

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/mapping"
)

// Field indexes on IrisInstances, so a changed ConfigMap or Secret finds the
// instances that reference it without listing them all.
const (
	indexConfigMap = "spec.config.configMapRef.name"
	indexSecret    = "spec.secretRefs"
)

// SetupWithManager registers the controller and its watches, for a
// manager whose cache holds every ConfigMap and Secret (tests): it watches
// the referenced ones there.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return r.SetupWithReferences(mgr, mgr.GetCache())
}

// SetupWithReferences registers the controller and its watches; references
// is a cache of every ConfigMap's and Secret's metadata in the watched
// namespaces. The manager's own cache may hold only irisha's labelled ones:
// the referenced ones are the user's, unlabelled. A change of one is seen
// in references and wakes the instances that reference it; their content
// is read past the cache, only by the reconcile of such an instance
// (readingPastTheCache), so no Secret's data is kept in memory for the
// sake of the few that are referenced.
func (r *Reconciler) SetupWithReferences(mgr ctrl.Manager, references cache.Cache) error {
	r.Client = readingPastTheCache{Client: r.Client, direct: mgr.GetAPIReader()}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.IrisInstance{}, indexConfigMap, func(o client.Object) []string {
		if c := o.(*v1alpha1.IrisInstance).Spec.Config; c != nil && c.ConfigMapRef != nil {
			return []string{c.ConfigMapRef.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing IrisInstances by ConfigMap: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.IrisInstance{}, indexSecret, func(o client.Object) []string {
		spec := o.(*v1alpha1.IrisInstance).Spec
		var names []string
		if spec.PasswordSecret != nil {
			names = append(names, spec.PasswordSecret.Name)
		}
		if spec.LicenseKeySecret != nil {
			names = append(names, spec.LicenseKeySecret.Name)
		}
		return names
	}); err != nil {
		return fmt.Errorf("indexing IrisInstances by Secret: %w", err)
	}

	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.IrisInstance{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Secret{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		// The fencing Lease carries the agent's measure of the volume,
		// which autoGrow acts on; its renewals alone change nothing here.
		Owns(&coordinationv1.Lease{}, builder.WithPredicates(predicate.AnnotationChangedPredicate{})).
		// The PVC is owned only under the Delete policy, and pods are owned
		// by a ReplicaSet: both are found through the instance label.
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(mapping.ByInstanceLabel)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(mapping.ByInstanceLabel)).
		WatchesRawSource(source.Kind(references, metadataOf("ConfigMap"), handler.EnqueueRequestsFromMapFunc(r.referencing(indexConfigMap)))).
		WatchesRawSource(source.Kind(references, metadataOf("Secret"), handler.EnqueueRequestsFromMapFunc(r.referencing(indexSecret)))).
		Named("irisinstance").
		Complete(r)
}

// metadataOf is a core kind as a metadata-only watch's object.
func metadataOf(kind string) client.Object {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: kind}}
}

func (r *Reconciler) referencing(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		list := &v1alpha1.IrisInstanceList{}
		if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing IrisInstances that reference an object", "object", o.GetName())
			return nil
		}
		reqs := make([]reconcile.Request, len(list.Items))
		for i := range list.Items {
			reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
		}
		return reqs
	}
}
