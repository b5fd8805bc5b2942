package backup

import (
	"context"
	"fmt"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/irisha/irisha/api/v1alpha1"
)

// SnapshotAPIServed says whether the cluster serves VolumeSnapshots. Many
// clusters have no snapshot CRDs; the operator must still run there, and
// backups then fail with a message saying what to install.
func SnapshotAPIServed(mapper meta.RESTMapper) (bool, error) {
	gk := snapshotv1.SchemeGroupVersion.WithKind("VolumeSnapshot").GroupKind()
	_, err := mapper.RESTMapping(gk, snapshotv1.SchemeGroupVersion.Version)
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up the VolumeSnapshot API: %w", err)
	}
	return true, nil
}

// SetupWithManager registers the backup controller and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.IrisBackup{}, indexInstance, backupInstance); err != nil {
		return fmt.Errorf("indexing IrisBackups by instance: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.IrisBackup{}).
		Named("irisbackup")
	if !r.NoSnapshotAPI {
		// Snapshots kept under the Retain policy are not owned: find them
		// by their label.
		b = b.Watches(&snapshotv1.VolumeSnapshot{}, handler.EnqueueRequestsFromMapFunc(snapshotToBackup)).
			// The cut time is read from the content: its update wakes the
			// backup at once (its snapshot is named after the backup).
			Watches(&snapshotv1.VolumeSnapshotContent{}, handler.EnqueueRequestsFromMapFunc(contentToBackup))
	}
	return b.Complete(r)
}

func snapshotToBackup(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[v1alpha1.LabelBackup]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}

func contentToBackup(_ context.Context, o client.Object) []reconcile.Request {
	c, ok := o.(*snapshotv1.VolumeSnapshotContent)
	if !ok || c.Spec.VolumeSnapshotRef.Name == "" {
		return nil
	}
	ref := c.Spec.VolumeSnapshotRef
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}}}
}
