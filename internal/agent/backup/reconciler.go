package backup

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/api/v1alpha1"
)

const (
	// waitTurn is how often a Freezing backup checks whether the freeze
	// held for another backup of the instance has ended.
	waitTurn = time.Second
	// conflictRetry: the backup changed since it was read; decide again
	// on its new version soon.
	conflictRetry = 100 * time.Millisecond
)

// reconciler is the I/O around decide: it reads a backup, asks the
// participant to freeze or thaw, and records the result in the status.
type reconciler struct {
	client.Client
	p *participant
	// pod is this agent's pod, recorded in status.pod.
	pod string
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &v1alpha1.IrisBackup{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.p.gone(req.NamespacedName)
		}
		return ctrl.Result{}, fmt.Errorf("reading IrisBackup %s: %w", req.Name, err)
	}
	l, f := r.p.view(b)
	// The participant's clock: the deadline in l was read from it.
	a := decide(b, l, r.p.clock.Now())
	log.FromContext(ctx).V(1).Info("Decided", "phase", b.Status.Phase, "action", a.String())
	switch a {
	case actFreeze:
		return r.freeze(ctx, b)
	case actWaitTurn:
		return ctrl.Result{RequeueAfter: waitTurn}, nil
	case actRecordFrozen:
		return r.writeStatus(ctx, b, frozenStatus(b.Status, r.pod, f))
	case actThawRequest:
		return r.thaw(ctx, b, v1alpha1.ThawRequested)
	case actThawDeadline:
		return r.thaw(ctx, b, v1alpha1.ThawDeadline)
	case actThawRestart:
		err := r.p.thawUnowned()
		return r.writeStatus(ctx, b, restartedStatus(b.Status, r.p.clock.Now(), err))
	case actThawQuietly:
		f, err := r.p.thaw(b.UID, v1alpha1.ThawRequested)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("thawing IRIS for ended IrisBackup %s: %w", b.Name, err)
		}
		// Best effort: how long it was frozen is worth recording, but a
		// failed write must not keep the freeze on the books.
		res, err := r.writeStatus(ctx, b, recordThaw(b.Status, f))
		r.p.forget(b.UID)
		return res, err
	case actRecordThaw:
		return r.recordThaw(ctx, b, f)
	case actForget:
		r.p.forget(b.UID)
	}
	return ctrl.Result{}, nil
}

func (r *reconciler) freeze(ctx context.Context, b *v1alpha1.IrisBackup) (ctrl.Result, error) {
	f, err := r.p.freezeFor(ctx, b)
	if err != nil {
		return r.writeStatus(ctx, b, failedStatus(b.Status, v1alpha1.BackupReasonFreezeFailed, "Freezing IRIS failed: %v", err))
	}
	return r.writeStatus(ctx, b, frozenStatus(b.Status, r.pod, f))
}

// thaw ends this process's freeze for b. A failed thaw fails the backup;
// the freeze stays held, so the deadline timer and the next reconcile of
// the failed backup keep trying.
func (r *reconciler) thaw(ctx context.Context, b *v1alpha1.IrisBackup, cause v1alpha1.ThawCause) (ctrl.Result, error) {
	f, err := r.p.thaw(b.UID, cause)
	if err != nil {
		return r.writeStatus(ctx, b, failedStatus(b.Status, v1alpha1.BackupReasonThawFailed, "Thawing IRIS failed: %v", err))
	}
	return r.recordThaw(ctx, b, f)
}

// recordThaw writes the end of the freeze, then forgets it: only then may
// another backup freeze, and a retry before then records rather than thaws.
func (r *reconciler) recordThaw(ctx context.Context, b *v1alpha1.IrisBackup, f freeze) (ctrl.Result, error) {
	res, err := r.writeStatus(ctx, b, thawedStatus(b.Status, f))
	if err == nil && res.IsZero() {
		r.p.forget(b.UID)
	}
	return res, err
}

// writeStatus patches the status of b from the version decide saw, with an
// optimistic lock: if the operator moved the backup meanwhile the patch
// conflicts and the backup is decided again on its new version, so the
// agent never overwrites a phase it did not see. Nothing changed, no write.
func (r *reconciler) writeStatus(ctx context.Context, b *v1alpha1.IrisBackup, status v1alpha1.IrisBackupStatus) (ctrl.Result, error) {
	if equality.Semantic.DeepEqual(b.Status, status) {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFromWithOptions(b.DeepCopy(), client.MergeFromWithOptimisticLock{})
	b.Status = status
	if err := r.Status().Patch(ctx, b, patch); err != nil {
		if apierrors.IsConflict(err) {
			log.FromContext(ctx).V(1).Info("IrisBackup changed meanwhile; deciding again")
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		return ctrl.Result{}, fmt.Errorf("patching the status of IrisBackup %s to %s: %w", b.Name, status.Phase, err)
	}
	log.FromContext(ctx).Info("Recorded backup phase", "phase", status.Phase, "thawedBy", status.ThawedBy, "message", status.Message)
	return ctrl.Result{}, nil
}
