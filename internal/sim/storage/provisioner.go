package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Annotations the PV controller, the scheduler and provisioners use.
const (
	annStorageProvisioner = "volume.kubernetes.io/storage-provisioner"
	annSelectedNode       = "volume.kubernetes.io/selected-node"
	annProvisionedBy      = "pv.kubernetes.io/provisioned-by"
)

// waitPoll is how often a PVC waiting for its source snapshot is checked.
const waitPoll = 500 * time.Millisecond

type provisioner struct {
	*Store
	c client.Client
}

func (s *Store) setupProvisioner(mgr ctrl.Manager) error {
	p := &provisioner{Store: s, c: mgr.GetClient()}
	if err := ctrl.NewControllerManagedBy(mgr).Named("sim-provisioner").For(&corev1.PersistentVolumeClaim{}).Complete(p); err != nil {
		return fmt.Errorf("setting up the provisioner: %w", err)
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("sim-pv-deleter").For(&corev1.PersistentVolume{}).
		Complete(reconcile.Func(p.reconcilePV)); err != nil {
		return fmt.Errorf("setting up the PV deleter: %w", err)
	}
	return nil
}

func ours(provisioner string) bool {
	return provisioner == LonghornDriver || provisioner == LocalDriver
}

// Reconcile provisions an unbound PVC of our classes, or expands a bound one.
func (p *provisioner) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := p.c.Get(ctx, req.NamespacedName, pvc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if pvc.DeletionTimestamp != nil || pvc.Spec.StorageClassName == nil {
		return ctrl.Result{}, nil
	}
	sc := &storagev1.StorageClass{}
	if err := p.c.Get(ctx, client.ObjectKey{Name: *pvc.Spec.StorageClassName}, sc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ours(sc.Provisioner) {
		return ctrl.Result{}, nil
	}
	if pvc.Spec.VolumeName == "" {
		return p.provision(ctx, pvc, sc)
	}
	return p.expand(ctx, pvc, sc)
}

func (p *provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass) (ctrl.Result, error) {
	// Like external-provisioner: act only once the PV controller has handed
	// the claim over (for WaitForFirstConsumer, after the scheduler chose a
	// node).
	if pvc.Annotations[annStorageProvisioner] != sc.Provisioner {
		return ctrl.Result{}, nil
	}
	pvName := "pvc-" + string(pvc.UID)
	if err := p.c.Get(ctx, client.ObjectKey{Name: pvName}, &corev1.PersistentVolume{}); err == nil {
		return ctrl.Result{}, nil
	} else if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("reading PV %s: %w", pvName, err)
	}
	src, ready, err := p.sourceSnapshotDir(ctx, pvc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !ready {
		return ctrl.Result{RequeueAfter: waitPoll}, nil
	}
	pv, err := buildPV(pvName, pvc, sc, pvc.Annotations[annSelectedNode])
	if err != nil {
		return ctrl.Result{}, err
	}
	dir := p.VolumeDir(pvName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ctrl.Result{}, fmt.Errorf("creating the block device of %s: %w", pvName, err)
	}
	if src != "" {
		if err := copyDir(src, dir); err != nil {
			return ctrl.Result{}, fmt.Errorf("restoring %s into %s: %w", src, pvName, err)
		}
	}
	size := pv.Spec.Capacity[corev1.ResourceStorage]
	if err := p.setCapacity(pvName, size.Value()); err != nil {
		return ctrl.Result{}, err
	}
	if err := p.c.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating PV %s: %w", pvName, err)
	}
	p.cfg.Log.V(1).Info("Provisioned", "pvc", client.ObjectKeyFromObject(pvc), "pv", pvName)
	return ctrl.Result{}, nil
}

// sourceSnapshotDir returns the snapshot directory to restore from ("" for
// an empty volume) and whether it can be used yet.
func (p *provisioner) sourceSnapshotDir(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (string, bool, error) {
	ref := pvc.Spec.DataSourceRef
	if ref == nil && pvc.Spec.DataSource != nil {
		ref = &corev1.TypedObjectReference{APIGroup: pvc.Spec.DataSource.APIGroup, Kind: pvc.Spec.DataSource.Kind, Name: pvc.Spec.DataSource.Name}
	}
	if ref == nil || ref.Kind != "VolumeSnapshot" || ref.APIGroup == nil || *ref.APIGroup != snapshotv1.GroupName {
		return "", true, nil
	}
	vs := &snapshotv1.VolumeSnapshot{}
	if err := p.c.Get(ctx, client.ObjectKey{Namespace: pvc.Namespace, Name: ref.Name}, vs); err != nil {
		if apierrors.IsNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading VolumeSnapshot %s: %w", ref.Name, err)
	}
	if vs.Status == nil || vs.Status.ReadyToUse == nil || !*vs.Status.ReadyToUse || vs.Status.BoundVolumeSnapshotContentName == nil {
		return "", false, nil
	}
	content := &snapshotv1.VolumeSnapshotContent{}
	if err := p.c.Get(ctx, client.ObjectKey{Name: *vs.Status.BoundVolumeSnapshotContentName}, content); err != nil {
		return "", false, client.IgnoreNotFound(err)
	}
	if content.Status == nil || content.Status.SnapshotHandle == nil {
		return "", false, nil
	}
	return p.SnapshotDir(*content.Status.SnapshotHandle), true, nil
}

// buildPV is the PV a CSI provisioner creates for pvc: capacity as
// requested, a CSI source whose handle is the PV name, and for local-disk a
// node affinity to the node the scheduler selected.
func buildPV(name string, pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass, node string) (*corev1.PersistentVolume, error) {
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil, fmt.Errorf("PVC %s/%s requests no storage", pvc.Namespace, pvc.Name)
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	mode := corev1.PersistentVolumeFilesystem
	if pvc.Spec.VolumeMode != nil {
		mode = *pvc.Spec.VolumeMode
	}
	attrs := map[string]string{"storage.kubernetes.io/csiProvisionerIdentity": "irisha-sim-" + sc.Provisioner}
	for k, v := range sc.Parameters {
		attrs[k] = v
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: sc.Provisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size.DeepCopy()},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              sc.Name,
			VolumeMode:                    &mode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: sc.Provisioner, VolumeHandle: name, FSType: "ext4", VolumeAttributes: attrs,
			}},
		},
	}
	if sc.Provisioner == LocalDriver {
		if node == "" {
			return nil, fmt.Errorf("local-disk PVC %s/%s has no selected node", pvc.Namespace, pvc.Name)
		}
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		}}
	}
	return pv, nil
}

// expand grows the PV and then the claim's status. Longhorn >= 1.4 expands
// online, so whether a pod uses the volume does not matter.
func (p *provisioner) expand(ctx context.Context, pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass) (ctrl.Result, error) {
	err := p.expandNow(ctx, pvc, sc)
	if errors.Is(err, errAttached) {
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}

// errAttached: a driver without online expansion refuses to grow an
// attached volume (CSI FailedPrecondition); the external-resizer retries.
var errAttached = errors.New("the volume is attached and the driver expands only offline")

func (p *provisioner) expandNow(ctx context.Context, pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass) error {
	want, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok || sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		return nil
	}
	pv := &corev1.PersistentVolume{}
	if err := p.c.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
		return client.IgnoreNotFound(err)
	}
	have := pv.Spec.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) > 0 && sc.Parameters[paramExpansion] == "offline" {
		attached, err := p.attached(ctx, pv.Name)
		if err != nil {
			return err
		}
		if attached {
			return errAttached
		}
	}
	if want.Cmp(have) > 0 {
		patch := client.MergeFrom(pv.DeepCopy())
		pv.Spec.Capacity[corev1.ResourceStorage] = want.DeepCopy()
		if err := p.c.Patch(ctx, pv, patch); err != nil {
			return fmt.Errorf("expanding PV %s: %w", pv.Name, err)
		}
		have = want
		if err := p.setCapacity(pv.Name, have.Value()); err != nil {
			return err
		}
	}
	if !needsStatusExpansion(pvc, have) {
		return nil
	}
	patch := client.MergeFrom(pvc.DeepCopy())
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: have.DeepCopy()}
	pvc.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: have.DeepCopy()}
	pvc.Status.AllocatedResourceStatuses = nil
	var conds []corev1.PersistentVolumeClaimCondition
	for _, c := range pvc.Status.Conditions {
		if c.Type != corev1.PersistentVolumeClaimResizing && c.Type != corev1.PersistentVolumeClaimFileSystemResizePending {
			conds = append(conds, c)
		}
	}
	pvc.Status.Conditions = conds
	if err := p.c.Status().Patch(ctx, pvc, patch); err != nil {
		return fmt.Errorf("recording the new size of PVC %s: %w", pvc.Name, err)
	}
	p.cfg.Log.V(1).Info("Expanded", "pvc", client.ObjectKeyFromObject(pvc), "size", have.String())
	return nil
}

// needsStatusExpansion: the claim is bound and reports less than the PV has.
func needsStatusExpansion(pvc *corev1.PersistentVolumeClaim, pvSize resource.Quantity) bool {
	if pvc.Status.Phase != corev1.ClaimBound {
		return false
	}
	cur, ok := pvc.Status.Capacity[corev1.ResourceStorage]
	return !ok || cur.Cmp(pvSize) < 0
}

// reconcilePV deletes released PVs of our drivers with reclaim Delete,
// with their block device.
func (p *provisioner) reconcilePV(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pv := &corev1.PersistentVolume{}
	if err := p.c.Get(ctx, req.NamespacedName, pv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ours(pv.Annotations[annProvisionedBy]) || pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if err := os.RemoveAll(p.VolumeDir(pv.Name)); err != nil {
		return ctrl.Result{}, fmt.Errorf("removing the block device of %s: %w", pv.Name, err)
	}
	if err := p.c.Delete(ctx, pv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// attached says whether a VolumeAttachment of the PV exists.
func (p *provisioner) attached(ctx context.Context, pvName string) (bool, error) {
	list := &storagev1.VolumeAttachmentList{}
	if err := p.c.List(ctx, list); err != nil {
		return false, fmt.Errorf("listing VolumeAttachments: %w", err)
	}
	for _, va := range list.Items {
		if src := va.Spec.Source.PersistentVolumeName; src != nil && *src == pvName {
			return true, nil
		}
	}
	return false, nil
}
