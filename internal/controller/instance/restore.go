package instance

import (
	"context"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// Reasons of the Restored condition.
const (
	ReasonRestored        = "Restored"
	ReasonRestorePending  = "SourceNotReady"
	ReasonRestoreNoSource = "SourceNotFound"
	ReasonRestoreFailed   = "SourceFailed"
	ReasonRestoreConflict = "VolumeExists"
)

// restoreOutcome is what the reconciler learnt of spec.restoreFrom.
type restoreOutcome struct {
	// plan, when set, is the restore the claim is created with.
	plan *resources.Restore
	// status, reason and message of the Restored condition.
	status          metav1.ConditionStatus
	reason, message string
}

// blocks says whether nothing may be applied: the volume cannot be created
// from the source yet, or a claim with other contents is in the way. IRIS
// must never start on an empty volume, nor on someone else's data, when the
// user asked for a restore.
func (o *restoreOutcome) blocks() bool {
	return o != nil && o.status != metav1.ConditionTrue
}

// planned is the restore to create the claim with, if any.
func (o *restoreOutcome) planned() *resources.Restore {
	if o == nil {
		return nil
	}
	return o.plan
}

// restoreRecheck is how often an instance whose restore waits looks again.
const restoreRecheck = 5 * time.Second

// planRestore resolves spec.restoreFrom into the snapshot the claim is
// created from. Once the claim exists it checks that the claim is the one
// made from that source, and plans it as it was made.
func (r *Reconciler) planRestore(ctx context.Context, inst *v1alpha1.IrisInstance) (*restoreOutcome, error) {
	src := inst.Spec.RestoreFrom
	if src == nil {
		return nil, nil
	}
	key := resources.RestoreKey(src)
	pvc := &corev1.PersistentVolumeClaim{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.PVCName(inst)}, pvc)
	if err == nil {
		if pvc.Annotations[resources.AnnotationRestoredFrom] != key {
			return &restoreOutcome{status: metav1.ConditionFalse, reason: ReasonRestoreConflict, message: fmt.Sprintf(
				"PersistentVolumeClaim %s already exists and was not created from %s: refusing to run IRIS on other data; delete the claim (its data is lost) or restore under another instance name",
				pvc.Name, key)}, nil
		}
		// The claim keeps being applied as it was created, with its source:
		// an apply without the annotation would remove it (irisha owns it).
		plan := &resources.Restore{Key: key}
		if ds := pvc.Spec.DataSource; ds != nil {
			plan.Snapshot = ds.Name
		}
		return &restoreOutcome{plan: plan, status: metav1.ConditionTrue, reason: ReasonRestored, message: fmt.Sprintf("The volume was created from %s", key)}, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("getting PersistentVolumeClaim: %w", err)
	}
	snapshot := src.VolumeSnapshotName
	if src.BackupName != "" {
		b := &v1alpha1.IrisBackup{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: src.BackupName}, b); err != nil {
			if apierrors.IsNotFound(err) {
				return pending(ReasonRestoreNoSource, "IrisBackup %s does not exist in namespace %s", src.BackupName, inst.Namespace), nil
			}
			return nil, fmt.Errorf("getting IrisBackup %s: %w", src.BackupName, err)
		}
		switch b.Status.Phase {
		case v1alpha1.BackupCompleted:
		case v1alpha1.BackupFailed:
			return pending(ReasonRestoreFailed, "IrisBackup %s failed (%s): restore from another backup", b.Name, b.Status.Reason), nil
		default:
			return pending(ReasonRestorePending, "IrisBackup %s is %s; the volume is created once it is Completed", b.Name, b.Status.Phase), nil
		}
		snapshot = b.Status.SnapshotName
	}
	vs := &snapshotv1.VolumeSnapshot{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: snapshot}, vs); err != nil {
		// No match: the cluster serves no VolumeSnapshot API, so no snapshot.
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return pending(ReasonRestoreNoSource, "VolumeSnapshot %s does not exist in namespace %s", snapshot, inst.Namespace), nil
		}
		return nil, fmt.Errorf("getting VolumeSnapshot %s: %w", snapshot, err)
	}
	st := vs.Status
	if st != nil && st.Error != nil && st.Error.Message != nil {
		return pending(ReasonRestoreFailed, "VolumeSnapshot %s failed: %s", snapshot, *st.Error.Message), nil
	}
	if st == nil || st.ReadyToUse == nil || !*st.ReadyToUse {
		return pending(ReasonRestorePending, "VolumeSnapshot %s is not ready to use yet", snapshot), nil
	}
	plan := &resources.Restore{Key: key, Snapshot: snapshot}
	if st.RestoreSize != nil {
		plan.MinSize = st.RestoreSize.DeepCopy()
	}
	return &restoreOutcome{plan: plan, status: metav1.ConditionTrue, reason: ReasonRestored,
		message: fmt.Sprintf("Creating the volume from VolumeSnapshot %s (%s)", snapshot, key)}, nil
}

func pending(reason, format string, args ...any) *restoreOutcome {
	return &restoreOutcome{status: metav1.ConditionFalse, reason: reason, message: fmt.Sprintf(format, args...)}
}
