package instance

import (
	"context"
	"fmt"
	"math"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/volume"
)

// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses;volumeattachments,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=list;watch

// readGrowth gathers what planGrowth decides on. Without a claim there is
// nothing to grow yet.
func (r *Reconciler) readGrowth(ctx context.Context, inst *v1alpha1.IrisInstance) (growthInput, error) {
	in := growthInput{spec: inst.Spec.Storage.Size, autoGrow: inst.Spec.Storage.AutoGrow, now: r.Clock.Now()}
	if v := inst.Status.Volume; v != nil {
		in.rec = v.Resize
		if v.LastResizedAt != nil {
			in.lastResized = v.LastResizedAt.Time
		}
	}
	pvc := &corev1.PersistentVolumeClaim{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.PVCName(inst)}, pvc)
	if apierrors.IsNotFound(err) {
		return in, nil
	}
	if err != nil {
		return in, fmt.Errorf("getting PersistentVolumeClaim: %w", err)
	}
	in.bound = pvc.Status.Phase == corev1.ClaimBound
	in.request = resources.StorageRequest(pvc)
	in.capacity = pvc.Status.Capacity[corev1.ResourceStorage]
	for _, c := range pvc.Status.Conditions {
		if c.Type == corev1.PersistentVolumeClaimFileSystemResizePending && c.Status == corev1.ConditionTrue {
			in.fsResizePending = true
		}
	}
	if err := r.readClass(ctx, pvc, &in); err != nil {
		return in, err
	}
	in.usage, err = r.usage(ctx, inst)
	if err != nil || in.rec == nil {
		// The PV, its attachments and the pods matter only to the steps of
		// a growth in progress: a steady instance is not charged for them.
		return in, err
	}
	if pvc.Spec.VolumeName != "" {
		pv := &corev1.PersistentVolume{}
		if err := r.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err == nil {
			in.pvCapacity = pv.Spec.Capacity[corev1.ResourceStorage]
		} else if !apierrors.IsNotFound(err) {
			return in, fmt.Errorf("getting PersistentVolume %s: %w", pvc.Spec.VolumeName, err)
		}
		if in.attached, err = r.attached(ctx, pvc.Spec.VolumeName); err != nil {
			return in, err
		}
	}
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(inst.Namespace), client.MatchingLabels(resources.SelectorLabels(inst))); err != nil {
		return in, fmt.Errorf("listing pods: %w", err)
	}
	in.pods = len(pods.Items)
	for i := range pods.Items {
		in.podReady = in.podReady || resources.Serving(&pods.Items[i], inst)
	}
	return in, nil
}

func (r *Reconciler) readClass(ctx context.Context, pvc *corev1.PersistentVolumeClaim, in *growthInput) error {
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return nil
	}
	in.className = *pvc.Spec.StorageClassName
	sc := &storagev1.StorageClass{}
	err := r.Get(ctx, client.ObjectKey{Name: in.className}, sc)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting StorageClass %s: %w", in.className, err)
	}
	in.expandable = sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
	in.offline = sc.Annotations[v1alpha1.AnnotationVolumeExpansion] == "offline"
	return nil
}

func (r *Reconciler) attached(ctx context.Context, pv string) (bool, error) {
	list := &storagev1.VolumeAttachmentList{}
	if err := r.List(ctx, list); err != nil {
		return false, fmt.Errorf("listing VolumeAttachments: %w", err)
	}
	for _, va := range list.Items {
		if src := va.Spec.Source.PersistentVolumeName; src != nil && *src == pv {
			return true, nil
		}
	}
	return false, nil
}

// usage reads the agent's last measure of the volume from the fencing Lease.
func (r *Reconciler) usage(ctx context.Context, inst *v1alpha1.IrisInstance) (*volume.Stats, error) {
	l := &coordinationv1.Lease{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.FencingLeaseName(inst)}, l)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting the fencing Lease: %w", err)
	}
	v, ok := l.Annotations[v1alpha1.AnnotationVolumeUsage]
	if !ok {
		return nil, nil
	}
	st, err := volume.Parse(v)
	if err != nil {
		// An agent of another version, or a hand edit: no usage, no growth.
		return nil, nil
	}
	return &st, nil
}

// usageResolution is the change in used space, as a part of the volume,
// that status.volume records.
const usageResolution = 0.01

// volumeStatus is status.volume after plan.
func volumeStatus(prev *v1alpha1.VolumeStatus, in growthInput, p growthPlan) *v1alpha1.VolumeStatus {
	v := &v1alpha1.VolumeStatus{Resize: p.rec}
	if prev != nil {
		v.LastResizedAt = prev.LastResizedAt
	}
	if p.finished {
		v.LastResizedAt = ptr.To(metav1.NewTime(in.now))
	}
	if u := in.usage; u != nil {
		v.UsedBytes, v.CapacityBytes = u.UsedBytes, u.CapacityBytes
		v.MeasuredAt = ptr.To(metav1.NewTime(u.MeasuredAt))
		// IRIS writes all the time: record a new measure only when it
		// says something new, not one status write per measure.
		if prev != nil && prev.CapacityBytes == u.CapacityBytes && prev.MeasuredAt != nil &&
			math.Abs(float64(prev.UsedBytes-u.UsedBytes)) < usageResolution*float64(u.CapacityBytes) {
			v.UsedBytes, v.MeasuredAt = prev.UsedBytes, prev.MeasuredAt
		}
	}
	if *v == (v1alpha1.VolumeStatus{}) {
		return nil
	}
	return v
}
