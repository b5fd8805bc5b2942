package backup

import (
	"context"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// conflictRetry: the backup changed since it was read (the agent moved
// it); decide again on its new version soon.
const conflictRetry = 100 * time.Millisecond

// Reconciler drives IrisBackups through the operator's steps.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Clock    clock.Clock
	Metrics  *Metrics
	// NoSnapshotAPI: the cluster serves no VolumeSnapshot API, so every
	// backup fails with a message saying so.
	NoSnapshotAPI bool
}

// Cached reads need list and watch; status is patched; a snapshot is
// created, its owner reference patched (deletion policy), and deleted when
// its backup failed.
// +kubebuilder:rbac:groups=irisha.dev,resources=irisbackups,verbs=list;watch
// +kubebuilder:rbac:groups=irisha.dev,resources=irisbackups/status,verbs=patch
// OwnerReferencesPermissionEnforcement (OpenShift): a snapshot owned with
// blockOwnerDeletion needs update on its owner's finalizers.
// +kubebuilder:rbac:groups=irisha.dev,resources=irisbackups/finalizers,verbs=update
// +kubebuilder:rbac:groups=snapshot.storage.k8s.io,resources=volumesnapshots,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=snapshot.storage.k8s.io,resources=volumesnapshotclasses;volumesnapshotcontents,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=list;watch

// Reconcile moves one backup on by at most one step.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &v1alpha1.IrisBackup{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !b.DeletionTimestamp.IsZero() {
		// The snapshot goes with it by garbage collection unless Retain.
		return ctrl.Result{}, nil
	}
	f, err := r.gather(ctx, b)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := next(f)
	if st.createSnapshot {
		if err := r.createSnapshot(ctx, b, &st.status, f.instance); err != nil {
			return ctrl.Result{}, err
		}
	}
	if f.snapshot != nil {
		if err := r.keepSnapshotPolicy(ctx, b, f.snapshot); err != nil {
			return ctrl.Result{}, err
		}
	}
	wrote, err := r.writeStatus(ctx, b, st.status)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !wrote && !equality.Semantic.DeepEqual(b.Status, st.status) {
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	if wrote {
		r.announce(b, st.status)
	}
	if st.status.Phase == v1alpha1.BackupFailed {
		if err := r.dropSnapshot(ctx, b, f.snapshot); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: st.requeueAfter}, nil
}

// dropSnapshot deletes the snapshot of a failed backup: it may have been
// cut while IRIS was not frozen, and a restore from it would not be
// consistent. A snapshot the backup did not create is left alone.
func (r *Reconciler) dropSnapshot(ctx context.Context, b *v1alpha1.IrisBackup, vs *snapshotv1.VolumeSnapshot) error {
	if vs == nil || vs.Labels[v1alpha1.LabelBackup] != b.Name || !vs.DeletionTimestamp.IsZero() {
		return nil
	}
	if err := r.Delete(ctx, vs); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting VolumeSnapshot %s of failed IrisBackup %s: %w", vs.Name, b.Name, err)
	}
	if r.Recorder != nil {
		r.Recorder.Eventf(b, nil, corev1.EventTypeNormal, "DeletedSnapshot", "Delete", "Deleted VolumeSnapshot %s: the backup failed, so it may not be consistent", vs.Name)
	}
	return nil
}

// gather reads what next decides on. Only a backup that has not started
// needs the instance's pod, claim and snapshot class.
func (r *Reconciler) gather(ctx context.Context, b *v1alpha1.IrisBackup) (facts, error) {
	f := facts{backup: b, now: r.Clock.Now()}
	if b.Status.Phase.Ended() && b.Status.StoppedAt != nil {
		return f, r.readSnapshot(ctx, b, &f)
	}
	inst := &v1alpha1.IrisInstance{}
	err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Spec.InstanceName}, inst)
	switch {
	case err == nil:
		f.instance = inst
	case !apierrors.IsNotFound(err):
		return f, fmt.Errorf("reading IrisInstance %s: %w", b.Spec.InstanceName, err)
	}
	if err := r.readSnapshot(ctx, b, &f); err != nil {
		return f, err
	}
	if f.instance == nil || (b.Status.Phase != "" && b.Status.Phase != v1alpha1.BackupPending) {
		return f, nil
	}
	if f.ahead, err = r.earlierBackup(ctx, b); err != nil {
		return f, err
	}
	pvc := &corev1.PersistentVolumeClaim{}
	err = r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: resources.PVCName(inst)}, pvc)
	switch {
	case err == nil:
		f.pvc = pvc
	case !apierrors.IsNotFound(err):
		return f, fmt.Errorf("reading the instance's PersistentVolumeClaim: %w", err)
	}
	if f.readyPod, err = r.readyPod(ctx, inst); err != nil {
		return f, err
	}
	if f.pvc != nil && f.pvc.Spec.VolumeName != "" {
		if f.class, f.classProblem, err = r.snapshotClass(ctx, b, f.pvc); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (r *Reconciler) readSnapshot(ctx context.Context, b *v1alpha1.IrisBackup, f *facts) error {
	if b.Status.SnapshotName == "" || r.NoSnapshotAPI {
		return nil
	}
	vs := &snapshotv1.VolumeSnapshot{}
	err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Status.SnapshotName}, vs)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading VolumeSnapshot %s: %w", b.Status.SnapshotName, err)
	}
	f.snapshot = vs
	if b.Status.Phase != v1alpha1.BackupSnapshotting || vs.Status == nil || vs.Status.BoundVolumeSnapshotContentName == nil {
		return nil
	}
	content := &snapshotv1.VolumeSnapshotContent{}
	err = r.Get(ctx, client.ObjectKey{Name: *vs.Status.BoundVolumeSnapshotContentName}, content)
	switch {
	case apierrors.IsNotFound(err):
		// Bound in the snapshot's status but not in the cache yet.
		return nil
	case err != nil:
		return fmt.Errorf("reading VolumeSnapshotContent %s: %w", *vs.Status.BoundVolumeSnapshotContentName, err)
	}
	if cs := content.Status; cs != nil && cs.CreationTime != nil {
		f.cutAt = time.Unix(0, *cs.CreationTime)
	}
	return nil
}

// earlierBackup names a backup of the same instance, created before b,
// that has not ended: backups of an instance run one at a time, oldest
// first.
func (r *Reconciler) earlierBackup(ctx context.Context, b *v1alpha1.IrisBackup) (string, error) {
	list := &v1alpha1.IrisBackupList{}
	if err := r.List(ctx, list, client.InNamespace(b.Namespace), client.MatchingFields{indexInstance: b.Spec.InstanceName}); err != nil {
		return "", fmt.Errorf("listing the IrisBackups of %s: %w", b.Spec.InstanceName, err)
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == b.UID || o.Status.Phase.Ended() || !o.DeletionTimestamp.IsZero() {
			continue
		}
		// A backup already past Pending holds the turn whatever its age.
		started := o.Status.Phase != "" && o.Status.Phase != v1alpha1.BackupPending
		if started || earlier(o, b) {
			return o.Name, nil
		}
	}
	return "", nil
}

func earlier(a, b *v1alpha1.IrisBackup) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// readyPod is the pod serving the instance, the one whose agent freezes IRIS.
func (r *Reconciler) readyPod(ctx context.Context, inst *v1alpha1.IrisInstance) (string, error) {
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(inst.Namespace), client.MatchingLabels(resources.SelectorLabels(inst))); err != nil {
		return "", fmt.Errorf("listing the pods of %s: %w", inst.Name, err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if resources.Serving(p, inst) {
			return p.Name, nil
		}
	}
	return "", nil
}

func (r *Reconciler) snapshotClass(ctx context.Context, b *v1alpha1.IrisBackup, pvc *corev1.PersistentVolumeClaim) (class, problem string, err error) {
	if r.NoSnapshotAPI {
		return "", "This cluster serves no VolumeSnapshot API: install the external-snapshotter CRDs and snapshot controller, then restart the operator", nil
	}
	pv := &corev1.PersistentVolume{}
	if err := r.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv); err != nil {
		return "", "", fmt.Errorf("reading PersistentVolume %s: %w", pvc.Spec.VolumeName, err)
	}
	driver := volumeDriver(pv)
	if driver == "" {
		return "", fmt.Sprintf("PersistentVolume %s is not a CSI volume: only CSI drivers take VolumeSnapshots", pv.Name), nil
	}
	list := &snapshotv1.VolumeSnapshotClassList{}
	if err := r.List(ctx, list); err != nil {
		return "", "", fmt.Errorf("listing VolumeSnapshotClasses: %w", err)
	}
	class, problem = pickClass(b.Spec.VolumeSnapshotClassName, list.Items, driver)
	return class, problem, nil
}

// createSnapshot creates the backup's VolumeSnapshot; one that exists
// already (a retry, a restarted operator) is kept as it is.
func (r *Reconciler) createSnapshot(ctx context.Context, b *v1alpha1.IrisBackup, status *v1alpha1.IrisBackupStatus, inst *v1alpha1.IrisInstance) error {
	if inst == nil {
		inst = &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: b.Spec.InstanceName, Namespace: b.Namespace}}
	}
	merge := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: resources.MergeSecretName(inst)}, merge); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading the merge Secret of %s: %w", inst.Name, err)
	}
	withStatus := b.DeepCopy()
	withStatus.Status = *status
	vs := snapshotFor(withStatus, inst, merge.Data[resources.MergeFileKey])
	if b.Spec.SnapshotDeletionPolicy != v1alpha1.SnapshotRetain {
		if err := controllerutil.SetControllerReference(b, vs, r.Scheme); err != nil {
			return fmt.Errorf("owning VolumeSnapshot %s: %w", vs.Name, err)
		}
	}
	if err := r.Create(ctx, vs); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating VolumeSnapshot %s: %w", vs.Name, err)
	}
	return nil
}

// keepSnapshotPolicy owns the snapshot exactly when the backup's deletion
// policy is Delete, so garbage collection deletes it with the backup; the
// policy may change while the backup exists.
func (r *Reconciler) keepSnapshotPolicy(ctx context.Context, b *v1alpha1.IrisBackup, vs *snapshotv1.VolumeSnapshot) error {
	if vs.Labels[v1alpha1.LabelBackup] != b.Name {
		// Not ours (a name clash with a snapshot made by hand): leave it.
		return nil
	}
	owned := metav1.IsControlledBy(vs, b)
	want := b.Spec.SnapshotDeletionPolicy != v1alpha1.SnapshotRetain
	if owned == want {
		return nil
	}
	patch := client.MergeFrom(vs.DeepCopy())
	var err error
	if want {
		err = controllerutil.SetControllerReference(b, vs, r.Scheme)
	} else {
		err = controllerutil.RemoveControllerReference(b, vs, r.Scheme)
	}
	if err != nil {
		return fmt.Errorf("changing the owner of VolumeSnapshot %s: %w", vs.Name, err)
	}
	if err := r.Patch(ctx, vs, patch); err != nil {
		return fmt.Errorf("changing the owner of VolumeSnapshot %s: %w", vs.Name, err)
	}
	return nil
}

// writeStatus patches the status from the version next saw, with an
// optimistic lock: the agent writes the same status, and neither may
// overwrite a phase it did not see. wrote is false when nothing changed or
// the backup changed meanwhile.
func (r *Reconciler) writeStatus(ctx context.Context, b *v1alpha1.IrisBackup, status v1alpha1.IrisBackupStatus) (wrote bool, err error) {
	if equality.Semantic.DeepEqual(b.Status, status) {
		return false, nil
	}
	patch := client.MergeFromWithOptions(b.DeepCopy(), client.MergeFromWithOptimisticLock{})
	before := b.Status
	b.Status = status
	if err := r.Status().Patch(ctx, b, patch); err != nil {
		b.Status = before
		if apierrors.IsConflict(err) {
			log.FromContext(ctx).V(1).Info("IrisBackup changed meanwhile; deciding again")
			return false, nil
		}
		return false, fmt.Errorf("patching the status of IrisBackup %s to %s: %w", b.Name, status.Phase, err)
	}
	b.Status = before
	return true, nil
}

// announce emits an Event for a new phase and counts a backup that ended.
func (r *Reconciler) announce(b *v1alpha1.IrisBackup, next v1alpha1.IrisBackupStatus) {
	was := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.BackupConditionCompleted)
	endedNow := next.Phase.Ended() && (was == nil || was.Status == metav1.ConditionUnknown)
	if endedNow {
		done := b.DeepCopy()
		done.Status = next
		r.Metrics.ended(done)
	}
	if next.Phase == b.Status.Phase && !endedNow {
		return
	}
	if r.Recorder == nil {
		return
	}
	typ, reason := corev1.EventTypeNormal, string(next.Phase)
	if next.Phase == v1alpha1.BackupFailed {
		typ, reason = corev1.EventTypeWarning, "BackupFailed"
		if next.Reason != "" {
			reason = next.Reason
		}
	}
	r.Recorder.Eventf(b, nil, typ, reason, "Backup", "%s", next.Message)
}

// indexInstance indexes IrisBackups by spec.instanceName.
const indexInstance = "spec.instanceName"

func backupInstance(o client.Object) []string {
	return []string{o.(*v1alpha1.IrisBackup).Spec.InstanceName}
}
