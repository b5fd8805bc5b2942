package instance

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// applyPVC creates the data claim or brings a live one in line: it grows the
// request when spec.storage.size grew, and owns the claim exactly when the
// deletion policy is Delete (an owned claim is garbage-collected with the
// instance). It never shrinks a claim and never touches one that does not
// carry this instance's label: that data belongs to someone else.
func (r *Reconciler) applyPVC(ctx context.Context, inst *v1alpha1.IrisInstance, desired *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	owned := inst.Spec.Storage.DeletionPolicy == v1alpha1.PVCDelete
	if owned {
		if err := controllerutil.SetControllerReference(inst, desired, r.Scheme); err != nil {
			return nil, fmt.Errorf("owning PersistentVolumeClaim %s: %w", desired.Name, err)
		}
	}
	live := &corev1.PersistentVolumeClaim{}
	err := r.Get(ctx, client.ObjectKeyFromObject(desired), live)
	if apierrors.IsNotFound(err) {
		if err := r.Create(ctx, desired); err != nil {
			return nil, fmt.Errorf("creating PersistentVolumeClaim %s: %w", desired.Name, err)
		}
		r.event(inst, corev1.EventTypeNormal, "Created", "Create", "Created PersistentVolumeClaim %s", desired.Name)
		return desired, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting PersistentVolumeClaim %s: %w", desired.Name, err)
	}
	if live.Labels[resources.LabelIrisInstance] != inst.Name {
		return nil, &ConflictError{Kind: "PersistentVolumeClaim", Name: live.Name,
			Reason: fmt.Sprintf("does not carry the label %s=%s", resources.LabelIrisInstance, inst.Name)}
	}

	updated := live.DeepCopy()
	want := resources.StorageRequest(desired)
	have := resources.StorageRequest(live)
	// Kubernetes lets only a bound claim change its request; an unbound one
	// is grown once it binds (the PVC watch brings the instance back then).
	grow := want.Cmp(have) > 0 && live.Status.Phase == corev1.ClaimBound
	if grow {
		updated.Spec.Resources.Requests[corev1.ResourceStorage] = want
	}
	if owned {
		if err := controllerutil.SetControllerReference(inst, updated, r.Scheme); err != nil {
			return nil, fmt.Errorf("owning PersistentVolumeClaim %s: %w", live.Name, err)
		}
	} else if metav1.IsControlledBy(updated, inst) {
		if err := controllerutil.RemoveControllerReference(inst, updated, r.Scheme); err != nil {
			return nil, fmt.Errorf("releasing PersistentVolumeClaim %s: %w", live.Name, err)
		}
	}
	if !grow && ownerRefsEqual(live.OwnerReferences, updated.OwnerReferences) {
		return live, nil
	}
	if err := r.Update(ctx, updated); err != nil {
		if grow && (apierrors.IsForbidden(err) || apierrors.IsInvalid(err)) {
			// Typically a StorageClass without allowVolumeExpansion: only
			// the user can fix that, so say so instead of retrying.
			return nil, &ResizeRefusedError{PVC: live.Name, Size: want.String(), Err: err}
		}
		return nil, fmt.Errorf("updating PersistentVolumeClaim %s: %w", live.Name, err)
	}
	if grow {
		r.event(inst, corev1.EventTypeNormal, "Expanding", "Expand", "Requested %s for PersistentVolumeClaim %s (was %s)", want.String(), live.Name, have.String())
	}
	return updated, nil
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

func ownerRefsEqual(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].UID != b[i].UID || (a[i].Controller == nil) != (b[i].Controller == nil) {
			return false
		}
	}
	return true
}
