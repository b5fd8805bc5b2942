package storage

import (
	"context"
	"fmt"
	"os"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// annDefaultSnapshotClass marks the default VolumeSnapshotClass of a driver.
const annDefaultSnapshotClass = "snapshot.storage.kubernetes.io/is-default-class"

// snapshotter plays both the common snapshot-controller (binds a
// VolumeSnapshot to a dynamically created VolumeSnapshotContent) and the
// CSI snapshotter sidecar (cuts the snapshot, reports it).
type snapshotter struct {
	*Store
	c client.Client
}

func (s *Store) setupSnapshotter(mgr ctrl.Manager) error {
	sn := &snapshotter{Store: s, c: mgr.GetClient()}
	err := ctrl.NewControllerManagedBy(mgr).Named("sim-snapshot-controller").
		For(&snapshotv1.VolumeSnapshot{}).
		Watches(&snapshotv1.VolumeSnapshotContent{}, handler.EnqueueRequestsFromMapFunc(contentToSnapshot)).
		Complete(reconcile.Func(sn.reconcileSnapshot))
	if err != nil {
		return fmt.Errorf("setting up the snapshot controller: %w", err)
	}
	err = ctrl.NewControllerManagedBy(mgr).Named("sim-csi-snapshotter").
		For(&snapshotv1.VolumeSnapshotContent{}).
		// A deleted snapshot's content must hear of it, to be deleted with
		// its data (deletionPolicy Delete): nothing else changes it then.
		Watches(&snapshotv1.VolumeSnapshot{}, handler.EnqueueRequestsFromMapFunc(snapshotToContent)).
		Complete(reconcile.Func(sn.reconcileContent))
	if err != nil {
		return fmt.Errorf("setting up the CSI snapshotter: %w", err)
	}
	return nil
}

func contentToSnapshot(_ context.Context, o client.Object) []ctrl.Request {
	c, ok := o.(*snapshotv1.VolumeSnapshotContent)
	if !ok {
		return nil
	}
	ref := c.Spec.VolumeSnapshotRef
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}}}
}

// snapshotToContent is the content a snapshot is bound to, or the one it
// gets (dynamic contents are named after their snapshot's UID).
func snapshotToContent(_ context.Context, o client.Object) []ctrl.Request {
	vs, ok := o.(*snapshotv1.VolumeSnapshot)
	if !ok {
		return nil
	}
	name := contentName(vs)
	if vs.Status != nil && vs.Status.BoundVolumeSnapshotContentName != nil {
		name = *vs.Status.BoundVolumeSnapshotContentName
	}
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Name: name}}}
}

func contentName(vs *snapshotv1.VolumeSnapshot) string { return "snapcontent-" + string(vs.UID) }

// reconcileSnapshot creates the content of a dynamic VolumeSnapshot of our
// driver and mirrors the content's status into the snapshot's.
func (sn *snapshotter) reconcileSnapshot(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	vs := &snapshotv1.VolumeSnapshot{}
	if err := sn.c.Get(ctx, req.NamespacedName, vs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if vs.DeletionTimestamp != nil || vs.Spec.Source.PersistentVolumeClaimName == nil {
		return ctrl.Result{}, nil
	}
	class, err := sn.class(ctx, vs)
	if err != nil || class == nil {
		return ctrl.Result{}, err
	}
	content := &snapshotv1.VolumeSnapshotContent{}
	err = sn.c.Get(ctx, client.ObjectKey{Name: contentName(vs)}, content)
	if apierrors.IsNotFound(err) {
		return ctrl.Result{}, sn.createContent(ctx, vs, class)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading content of %s: %w", req, err)
	}
	want := snapshotStatus(content)
	if vs.Status != nil && equality.Semantic.DeepEqual(*vs.Status, *want) {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(vs.DeepCopy())
	vs.Status = want
	if err := sn.c.Status().Patch(ctx, vs, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("updating the status of VolumeSnapshot %s: %w", req, err)
	}
	return ctrl.Result{}, nil
}

// snapshotStatus is the VolumeSnapshot status that reflects content.
func snapshotStatus(content *snapshotv1.VolumeSnapshotContent) *snapshotv1.VolumeSnapshotStatus {
	st := &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: ptr(content.Name), ReadyToUse: ptr(false)}
	if cs := content.Status; cs != nil {
		if cs.CreationTime != nil {
			t := metav1.NewTime(time.Unix(0, *cs.CreationTime))
			st.CreationTime = &t
		}
		if cs.ReadyToUse != nil {
			st.ReadyToUse = ptr(*cs.ReadyToUse)
		}
		if cs.RestoreSize != nil {
			q := resourceBytes(*cs.RestoreSize)
			st.RestoreSize = &q
		}
		st.Error = cs.Error
	}
	return st
}

// class returns the snapshot's class if it belongs to our driver.
func (sn *snapshotter) class(ctx context.Context, vs *snapshotv1.VolumeSnapshot) (*snapshotv1.VolumeSnapshotClass, error) {
	if vs.Spec.VolumeSnapshotClassName != nil {
		c := &snapshotv1.VolumeSnapshotClass{}
		if err := sn.c.Get(ctx, client.ObjectKey{Name: *vs.Spec.VolumeSnapshotClassName}, c); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		if c.Driver != LonghornDriver {
			return nil, nil
		}
		return c, nil
	}
	list := &snapshotv1.VolumeSnapshotClassList{}
	if err := sn.c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing VolumeSnapshotClasses: %w", err)
	}
	for i := range list.Items {
		if c := &list.Items[i]; c.Driver == LonghornDriver && c.Annotations[annDefaultSnapshotClass] == "true" {
			return c, nil
		}
	}
	return nil, nil
}

func (sn *snapshotter) createContent(ctx context.Context, vs *snapshotv1.VolumeSnapshot, class *snapshotv1.VolumeSnapshotClass) error {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := sn.c.Get(ctx, client.ObjectKey{Namespace: vs.Namespace, Name: *vs.Spec.Source.PersistentVolumeClaimName}, pvc); err != nil {
		return fmt.Errorf("reading the source PVC of VolumeSnapshot %s/%s: %w", vs.Namespace, vs.Name, err)
	}
	if pvc.Spec.VolumeName == "" {
		return fmt.Errorf("source PVC %s/%s is not bound yet", pvc.Namespace, pvc.Name)
	}
	content := &snapshotv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: contentName(vs)},
		Spec: snapshotv1.VolumeSnapshotContentSpec{
			DeletionPolicy:          class.DeletionPolicy,
			Driver:                  class.Driver,
			VolumeSnapshotClassName: ptr(class.Name),
			Source:                  snapshotv1.VolumeSnapshotContentSource{VolumeHandle: ptr(pvc.Spec.VolumeName)},
			VolumeSnapshotRef: corev1.ObjectReference{
				Kind: "VolumeSnapshot", APIVersion: snapshotv1.SchemeGroupVersion.String(),
				Namespace: vs.Namespace, Name: vs.Name, UID: vs.UID,
			},
		},
	}
	if err := sn.c.Create(ctx, content); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating VolumeSnapshotContent %s: %w", content.Name, err)
	}
	return nil
}

// reconcileContent cuts the snapshot (status.creationTime first, the moment
// the data is frozen), copies the block device, then reports readyToUse;
// it deletes contents whose snapshot is gone (deletionPolicy Delete).
func (sn *snapshotter) reconcileContent(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	content := &snapshotv1.VolumeSnapshotContent{}
	if err := sn.c.Get(ctx, req.NamespacedName, content); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if content.Spec.Driver != LonghornDriver || content.Spec.Source.VolumeHandle == nil || content.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if gone, err := sn.snapshotGone(ctx, content); err != nil || gone {
		if gone {
			sn.cutWait(content.UID, true)
		}
		return ctrl.Result{}, err
	}
	handle := "snap-" + string(content.UID)
	if content.Status != nil && content.Status.Error != nil {
		return ctrl.Result{}, nil
	}
	if content.Status == nil || content.Status.CreationTime == nil {
		hold, fail := sn.cutFaults()
		if hold {
			return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
		}
		if fail != "" {
			patch := client.MergeFrom(content.DeepCopy())
			now := metav1.Now()
			content.Status = &snapshotv1.VolumeSnapshotContentStatus{ReadyToUse: ptr(false),
				Error: &snapshotv1.VolumeSnapshotError{Time: &now, Message: ptr(fail)}}
			if err := sn.c.Status().Patch(ctx, content, patch); err != nil {
				return ctrl.Result{}, fmt.Errorf("recording the failed cut of %s: %w", content.Name, err)
			}
			sn.cutWait(content.UID, true)
			return ctrl.Result{}, nil
		}
		// The driver's CreateSnapshot takes its time before it cuts.
		if wait := sn.cutWait(content.UID, false); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		pv := &corev1.PersistentVolume{}
		if err := sn.c.Get(ctx, client.ObjectKey{Name: *content.Spec.Source.VolumeHandle}, pv); err != nil {
			return ctrl.Result{}, fmt.Errorf("reading the source PV of %s: %w", content.Name, err)
		}
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		if err := os.MkdirAll(sn.SnapshotDir(handle), 0o755); err != nil {
			return ctrl.Result{}, fmt.Errorf("creating the snapshot directory: %w", err)
		}
		// The copy happens now, at the cut; readyToUse comes afterwards.
		if err := copyDir(sn.VolumeDir(pv.Name), sn.SnapshotDir(handle)); err != nil && !os.IsNotExist(err) {
			return ctrl.Result{}, fmt.Errorf("copying %s: %w", pv.Name, err)
		}
		patch := client.MergeFrom(content.DeepCopy())
		content.Status = &snapshotv1.VolumeSnapshotContentStatus{
			SnapshotHandle: ptr(handle), CreationTime: ptr(time.Now().UnixNano()),
			RestoreSize: ptr(size.Value()), ReadyToUse: ptr(false),
		}
		if err := sn.c.Status().Patch(ctx, content, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("recording the cut of %s: %w", content.Name, err)
		}
		sn.cutWait(content.UID, true)
		return ctrl.Result{RequeueAfter: max(sn.cfg.SnapshotReadyDelay, time.Millisecond)}, nil
	}
	if content.Status.ReadyToUse != nil && *content.Status.ReadyToUse {
		return ctrl.Result{}, nil
	}
	if wait := sn.cfg.SnapshotReadyDelay - time.Since(time.Unix(0, *content.Status.CreationTime)); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	patch := client.MergeFrom(content.DeepCopy())
	content.Status.ReadyToUse = ptr(true)
	if err := sn.c.Status().Patch(ctx, content, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("marking %s ready: %w", content.Name, err)
	}
	return ctrl.Result{}, nil
}

func (sn *snapshotter) snapshotGone(ctx context.Context, content *snapshotv1.VolumeSnapshotContent) (bool, error) {
	ref := content.Spec.VolumeSnapshotRef
	vs := &snapshotv1.VolumeSnapshot{}
	err := sn.c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, vs)
	if err == nil && vs.UID == ref.UID {
		return false, nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading VolumeSnapshot of %s: %w", content.Name, err)
	}
	if content.Spec.DeletionPolicy != snapshotv1.VolumeSnapshotContentDelete {
		return true, nil
	}
	if content.Status != nil && content.Status.SnapshotHandle != nil {
		if err := os.RemoveAll(sn.SnapshotDir(*content.Status.SnapshotHandle)); err != nil {
			return false, fmt.Errorf("removing snapshot data: %w", err)
		}
	}
	if err := sn.c.Delete(ctx, content); err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("deleting %s: %w", content.Name, err)
	}
	return true, nil
}
