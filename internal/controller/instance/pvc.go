package instance

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// applyPVC applies the data claim: its labels, its spec as created, a
// request grown when spec.storage.size grew, and this instance as its
// controller exactly when the deletion policy is Delete (an owned claim is
// garbage-collected with the instance). It never shrinks a claim (one grown
// by hand keeps its size) and never touches one that does not carry this
// instance's label: that data belongs to someone else.
func (r *Reconciler) applyPVC(ctx context.Context, inst *v1alpha1.IrisInstance, desired *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	owned := inst.Spec.Storage.DeletionPolicy == v1alpha1.PVCDelete
	if owned {
		if err := controllerutil.SetControllerReference(inst, desired, r.Scheme); err != nil {
			return nil, fmt.Errorf("owning PersistentVolumeClaim %s: %w", desired.Name, err)
		}
	}
	var have resource.Quantity
	grow := false
	applied, err := r.apply(ctx, inst, desired, func(o client.Object) error {
		live := o.(*corev1.PersistentVolumeClaim)
		if live.Labels[resources.LabelIrisInstance] != inst.Name {
			return &ConflictError{Kind: "PersistentVolumeClaim", Name: live.Name,
				Reason: fmt.Sprintf("does not carry the label %s=%s", resources.LabelIrisInstance, inst.Name)}
		}
		keepImmutable(&desired.Spec, &live.Spec)
		want := resources.StorageRequest(desired)
		have = resources.StorageRequest(live)
		// Kubernetes lets only a bound claim change its request; an unbound
		// one is grown once it binds (the PVC watch brings the instance back
		// then). A claim is never shrunk: one grown by hand keeps its size.
		grow = want.Cmp(have) > 0 && live.Status.Phase == corev1.ClaimBound
		if !grow {
			desired.Spec.Resources.Requests[corev1.ResourceStorage] = have
		}
		return nil
	})
	if err != nil {
		if grow && (apierrors.IsForbidden(err) || apierrors.IsInvalid(err)) {
			// Typically a StorageClass without allowVolumeExpansion: only
			// the user can fix that, so say so instead of retrying.
			want := resources.StorageRequest(desired)
			return nil, &ResizeRefusedError{PVC: desired.Name, Size: want.String(), Err: err}
		}
		return nil, err
	}
	pvc := applied.(*corev1.PersistentVolumeClaim)
	if !owned && metav1.IsControlledBy(pvc, inst) {
		// Set by an irisha that did not apply (before server-side apply),
		// so no apply of ours removes it.
		if pvc, err = r.release(ctx, inst, pvc); err != nil {
			return nil, err
		}
	}
	if grow {
		want := resources.StorageRequest(desired)
		r.event(inst, corev1.EventTypeNormal, "Expanding", "Expand", "Requested %s for PersistentVolumeClaim %s (was %s)", want.String(), desired.Name, have.String())
	}
	return pvc, nil
}

// keepImmutable sets in desired the fields Kubernetes never lets a claim
// change to the live claim's values: applying another value would only be
// refused, and applying none would drop fields irisha set at creation.
func keepImmutable(desired, live *corev1.PersistentVolumeClaimSpec) {
	if desired.StorageClassName != nil {
		desired.StorageClassName = live.StorageClassName
	}
	desired.AccessModes = live.AccessModes
	if desired.DataSource != nil {
		desired.DataSource = live.DataSource
	}
	if desired.DataSourceRef != nil {
		desired.DataSourceRef = live.DataSourceRef
	}
	if desired.VolumeMode != nil {
		desired.VolumeMode = live.VolumeMode
	}
}

// release removes this instance as the claim's controller.
func (r *Reconciler) release(ctx context.Context, inst *v1alpha1.IrisInstance, pvc *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	next := pvc.DeepCopy()
	if err := controllerutil.RemoveControllerReference(inst, next, r.Scheme); err != nil {
		return nil, fmt.Errorf("releasing PersistentVolumeClaim %s: %w", pvc.Name, err)
	}
	if err := r.Patch(ctx, next, client.MergeFromWithOptions(pvc, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager)); err != nil {
		return nil, fmt.Errorf("releasing PersistentVolumeClaim %s: %w", pvc.Name, err)
	}
	return next, nil
}

// ResizeRefusedError is a volume growth the API server refused.
type ResizeRefusedError struct {
	PVC, Size string
	Err       error
}

func (e *ResizeRefusedError) Error() string {
	return fmt.Sprintf("growing PersistentVolumeClaim %s to %s was refused (does its StorageClass allow volume expansion?): %v", e.PVC, e.Size, e.Err)
}

func (e *ResizeRefusedError) Unwrap() error { return e.Err }
