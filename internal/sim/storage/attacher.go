package storage

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
)

// attacherFinalizer is the finalizer external-attacher puts on the
// VolumeAttachments it handles (driver name with dots as dashes).
const attacherFinalizer = "external-attacher/driver-longhorn-io"

// blockedRetry is how often an attach refused for multi-attach is retried
// besides the retries that other VolumeAttachments' changes trigger.
const blockedRetry = 2 * time.Second

// attacherWorkers is the external-attacher's default --worker-threads.
const attacherWorkers = 10

type attacher struct {
	*Store
	c client.Client
}

func (s *Store) setupAttacher(mgr ctrl.Manager) error {
	a := &attacher{Store: s, c: mgr.GetClient()}
	err := ctrl.NewControllerManagedBy(mgr).Named("sim-attacher").
		For(&storagev1.VolumeAttachment{}).
		// A detach elsewhere may unblock an attach of the same volume.
		Watches(&storagev1.VolumeAttachment{}, handler.EnqueueRequestsFromMapFunc(a.samePV)).
		// As many as the CSI external-attacher's --worker-threads default:
		// one worker serialised the attaches of a lost node's volumes.
		WithOptions(controller.Options{MaxConcurrentReconciles: attacherWorkers}).
		Complete(a)
	if err != nil {
		return fmt.Errorf("setting up the attacher: %w", err)
	}
	return nil
}

func (a *attacher) samePV(ctx context.Context, o client.Object) []ctrl.Request {
	va, ok := o.(*storagev1.VolumeAttachment)
	if !ok || va.Spec.Source.PersistentVolumeName == nil {
		return nil
	}
	list := &storagev1.VolumeAttachmentList{}
	if err := a.c.List(ctx, list); err != nil {
		return nil
	}
	var reqs []ctrl.Request
	for _, other := range list.Items {
		if other.Name != va.Name && other.Spec.Source.PersistentVolumeName != nil &&
			*other.Spec.Source.PersistentVolumeName == *va.Spec.Source.PersistentVolumeName {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKey{Name: other.Name}})
		}
	}
	return reqs
}

// Reconcile attaches or detaches one VolumeAttachment of the Longhorn driver.
func (a *attacher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	va := &storagev1.VolumeAttachment{}
	if err := a.c.Get(ctx, req.NamespacedName, va); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if va.Spec.Attacher != LonghornDriver || va.Spec.Source.PersistentVolumeName == nil {
		return ctrl.Result{}, nil
	}
	pvName := *va.Spec.Source.PersistentVolumeName
	if va.DeletionTimestamp != nil {
		// Detach: the block store stops the engine at once (a dead node's
		// is gone anyway); dropping the finalizer lets the attach/detach
		// controller's delete complete. The engine is free for another node
		// only once that is written, so that no two VolumeAttachments show
		// the volume attached at once.
		if controllerutil.RemoveFinalizer(va, attacherFinalizer) {
			if err := a.c.Update(ctx, va); err != nil {
				return ctrl.Result{}, fmt.Errorf("detaching %s: %w", va.Name, err)
			}
			a.cfg.Log.V(1).Info("Detached", "volumeattachment", va.Name, "node", va.Spec.NodeName)
		}
		a.engines.detach(pvName, va.Spec.NodeName)
		return ctrl.Result{}, nil
	}
	if controllerutil.AddFinalizer(va, attacherFinalizer) {
		if err := a.c.Update(ctx, va); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the attacher finalizer to %s: %w", va.Name, err)
		}
	}
	if va.Status.Attached {
		return ctrl.Result{}, nil
	}
	pv := &corev1.PersistentVolume{}
	if err := a.c.Get(ctx, client.ObjectKey{Name: pvName}, pv); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading PV of %s: %w", va.Name, err)
	}
	shared := slices.Contains(pv.Spec.AccessModes, corev1.ReadWriteMany) || slices.Contains(pv.Spec.AccessModes, corev1.ReadOnlyMany)
	if holder := a.engines.attach(pvName, va.Spec.NodeName, shared); holder != "" {
		msg := fmt.Sprintf("volume %s is still attached to node %s", pv.Name, holder)
		if va.Status.AttachError == nil || va.Status.AttachError.Message != msg {
			patch := client.MergeFrom(va.DeepCopy())
			va.Status.AttachError = &storagev1.VolumeError{Time: metav1.Now(), Message: msg}
			if err := a.c.Status().Patch(ctx, va, patch); err != nil {
				return ctrl.Result{}, fmt.Errorf("recording the attach error of %s: %w", va.Name, err)
			}
		}
		return ctrl.Result{RequeueAfter: blockedRetry}, nil
	}
	if d := a.cfg.AttachDelay; d > 0 {
		if wait := d - time.Since(va.CreationTimestamp.Time); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	patch := client.MergeFrom(va.DeepCopy())
	va.Status.Attached = true
	va.Status.AttachError = nil
	va.Status.AttachmentMetadata = map[string]string{"devicePath": "/dev/longhorn/" + pv.Name}
	if err := a.c.Status().Patch(ctx, va, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("attaching %s: %w", va.Name, err)
	}
	a.cfg.Log.V(1).Info("Attached", "volumeattachment", va.Name, "pv", pv.Name, "node", va.Spec.NodeName)
	return ctrl.Result{}, nil
}
