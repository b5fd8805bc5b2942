package backup

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// ScheduleReconciler creates the backups of IrisScheduledBackups and
// applies their retention.
type ScheduleReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    clock.Clock
}

// +kubebuilder:rbac:groups=irisha.dev,resources=irisscheduledbackups,verbs=list;watch
// +kubebuilder:rbac:groups=irisha.dev,resources=irisscheduledbackups/status,verbs=patch
// +kubebuilder:rbac:groups=irisha.dev,resources=irisbackups,verbs=create;delete

// Reconcile takes the backup that is due, if any, deletes what retention
// says, and comes back at the next scheduled time.
func (r *ScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sb := &v1alpha1.IrisScheduledBackup{}
	if err := r.Get(ctx, req.NamespacedName, sb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sb.DeletionTimestamp.IsZero() {
		// Its backups stay: deleting a schedule must not delete backups.
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	status := sb.Status.DeepCopy()
	status.ObservedGeneration = sb.Generation
	sched, err := ParseSchedule(sb.Spec.Schedule)
	if err != nil {
		setScheduleReady(status, sb.Generation, now, metav1.ConditionFalse, "InvalidSchedule", err.Error())
		status.NextScheduleTime = nil
		return ctrl.Result{}, r.writeStatus(ctx, sb, status)
	}

	own, err := r.ownBackups(ctx, sb)
	if err != nil {
		return ctrl.Result{}, err
	}
	last := sb.CreationTimestamp.Time
	if status.LastScheduleTime != nil {
		last = status.LastScheduleTime.Time
	}
	at, isDue, next := due(sched, last, now)
	if sb.Spec.Immediate && status.LastScheduleTime == nil {
		at, isDue = now.Truncate(time.Second), true
	}
	if sb.Spec.Suspend {
		setScheduleReady(status, sb.Generation, now, metav1.ConditionFalse, "Suspended", "spec.suspend is true: no new backups; retention still runs")
		status.NextScheduleTime = nil
	} else {
		if isDue {
			name, err := r.createBackup(ctx, sb, at)
			if err != nil {
				return ctrl.Result{}, err
			}
			status.LastScheduleTime = &metav1.Time{Time: at}
			status.LastBackupName = name
		}
		setScheduleReady(status, sb.Generation, now, metav1.ConditionTrue, "Scheduled", fmt.Sprintf("next backup at %s", next.UTC().Format(time.RFC3339)))
		status.NextScheduleTime = &metav1.Time{Time: next}
	}
	status.LastCompletedBackupName = newestCompleted(own)
	if err := r.applyRetention(ctx, sb, own, now); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.writeStatus(ctx, sb, status); err != nil {
		return ctrl.Result{}, err
	}
	if sb.Spec.Suspend {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(next.Sub(r.Clock.Now()), time.Millisecond)}, nil
}

// ownBackups are the backups this schedule created: its label alone is not
// enough (a user may copy it onto a backup made by hand), so the creator's
// UID must match too.
func (r *ScheduleReconciler) ownBackups(ctx context.Context, sb *v1alpha1.IrisScheduledBackup) ([]v1alpha1.IrisBackup, error) {
	list := &v1alpha1.IrisBackupList{}
	if err := r.List(ctx, list, client.InNamespace(sb.Namespace), client.MatchingLabels{v1alpha1.LabelScheduledBackup: sb.Name}); err != nil {
		return nil, fmt.Errorf("listing the backups of IrisScheduledBackup %s: %w", sb.Name, err)
	}
	var own []v1alpha1.IrisBackup
	for _, b := range list.Items {
		if b.Annotations[v1alpha1.AnnotationScheduledBackupUID] == string(sb.UID) {
			own = append(own, b)
		}
	}
	return own, nil
}

// createBackup creates the backup for scheduled time at; if it exists
// already (this operator or a previous one created it) it is left alone.
func (r *ScheduleReconciler) createBackup(ctx context.Context, sb *v1alpha1.IrisScheduledBackup, at time.Time) (string, error) {
	b := &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{
			Name:      BackupNameAt(sb.Name, at),
			Namespace: sb.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelScheduledBackup: sb.Name,
				v1alpha1.LabelInstance:        sb.Spec.Template.InstanceName,
				resources.LabelManagedBy:      resources.ManagedBy,
			},
			Annotations: map[string]string{
				v1alpha1.AnnotationScheduledBackupUID: string(sb.UID),
				v1alpha1.AnnotationScheduledTime:      at.UTC().Format(time.RFC3339),
			},
		},
		Spec: *sb.Spec.Template.DeepCopy(),
	}
	err := r.Create(ctx, b)
	switch {
	case apierrors.IsAlreadyExists(err):
		return b.Name, nil
	case err != nil:
		return "", fmt.Errorf("creating IrisBackup %s: %w", b.Name, err)
	}
	r.event(sb, corev1.EventTypeNormal, "BackupCreated", "Created IrisBackup %s for %s", b.Name, at.UTC().Format(time.RFC3339))
	return b.Name, nil
}

func (r *ScheduleReconciler) applyRetention(ctx context.Context, sb *v1alpha1.IrisScheduledBackup, own []v1alpha1.IrisBackup, now time.Time) error {
	for _, name := range expired(own, sb.Spec.Retention, now) {
		b := &v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Namespace: sb.Namespace, Name: name}}
		if err := r.Delete(ctx, b); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting IrisBackup %s past its retention: %w", name, err)
		}
		r.event(sb, corev1.EventTypeNormal, "BackupDeleted", "Deleted IrisBackup %s: past the retention of the schedule", name)
	}
	return nil
}

func newestCompleted(own []v1alpha1.IrisBackup) string {
	var best *v1alpha1.IrisBackup
	for i := range own {
		b := &own[i]
		if b.Status.Phase == v1alpha1.BackupCompleted && (best == nil || newer(b, best)) {
			best = b
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

func setScheduleReady(s *v1alpha1.IrisScheduledBackupStatus, generation int64, now time.Time, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: v1alpha1.ScheduleConditionReady, Status: status, Reason: reason,
		Message: message, ObservedGeneration: generation, LastTransitionTime: metav1.NewTime(now)})
}

func (r *ScheduleReconciler) writeStatus(ctx context.Context, sb *v1alpha1.IrisScheduledBackup, status *v1alpha1.IrisScheduledBackupStatus) error {
	if equality.Semantic.DeepEqual(sb.Status, *status) {
		return nil
	}
	patch := client.MergeFromWithOptions(sb.DeepCopy(), client.MergeFromWithOptimisticLock{})
	sb.Status = *status
	if err := r.Status().Patch(ctx, sb, patch); err != nil {
		return fmt.Errorf("patching the status of IrisScheduledBackup %s: %w", sb.Name, err)
	}
	return nil
}

func (r *ScheduleReconciler) event(sb *v1alpha1.IrisScheduledBackup, typ, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(sb, nil, typ, reason, "Schedule", format, args...)
	}
}

// SetupWithManager registers the schedule controller; a backup of a
// schedule that changes (it completes, so retention may apply) brings the
// schedule back.
func (r *ScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.IrisScheduledBackup{}).
		Watches(&v1alpha1.IrisBackup{}, handler.EnqueueRequestsFromMapFunc(backupToSchedule)).
		Named("irisscheduledbackup").
		Complete(r)
}

func backupToSchedule(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[v1alpha1.LabelScheduledBackup]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}
