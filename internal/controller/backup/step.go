package backup

import (
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

const (
	// freezeAnswer bounds how long the operator waits for the agent to
	// report IRIS frozen (or its failure). The agent answers in well under
	// a second; a backup still Freezing after this has no agent to answer
	// (its pod went away, or it cannot reach the API server).
	freezeAnswer = 30 * time.Second
	// thawAnswer is how long after the thaw deadline the operator waits
	// for the agent to report the thaw before failing the backup itself:
	// the agent thaws IRIS on its own at the deadline whether or not it
	// can report it.
	thawAnswer = 30 * time.Second
	// contentRecheck is how soon a snapshot that is cut, but whose content
	// the operator has not read yet, is looked at again.
	contentRecheck = 100 * time.Millisecond
	// waitForTurn is how often a backup queued behind another backup of
	// the same instance looks again.
	waitForTurn = 2 * time.Second
)

// facts is what the reconciler read for one backup.
type facts struct {
	backup *v1alpha1.IrisBackup
	// instance is nil when it does not exist.
	instance *v1alpha1.IrisInstance
	// pvc is the instance's data claim, nil when it does not exist.
	pvc *corev1.PersistentVolumeClaim
	// readyPod is the instance's Ready pod, "" when there is none.
	readyPod string
	// class is the VolumeSnapshotClass to use; classProblem says why there
	// is none.
	class        string
	classProblem string
	// snapshot is the backup's VolumeSnapshot, nil when it does not exist.
	snapshot *snapshotv1.VolumeSnapshot
	// cutAt is when the snapshot was cut, to the nanosecond, read from its
	// bound content (the snapshot's own creationTime has whole seconds);
	// zero until the content reports it.
	cutAt time.Time
	// ahead is an earlier backup of the same instance that has not ended.
	ahead string
	now   time.Time
}

// step is what the reconciler does next.
type step struct {
	status v1alpha1.IrisBackupStatus
	// createSnapshot: create the VolumeSnapshot (idempotent) before
	// writing status.
	createSnapshot bool
	// requeueAfter: look again then even if nothing changes.
	requeueAfter time.Duration
}

// next is the operator's move for a backup. It only moves the phases the
// operator owns; the agent's (Freezing -> Frozen, Thawing -> Finalizing)
// are only watched, with a bound on how long the operator waits for them.
func next(f facts) step {
	b := f.backup
	s := b.Status.DeepCopy()
	st := step{}
	switch b.Status.Phase {
	case "", v1alpha1.BackupPending:
		st = start(f, s)
	case v1alpha1.BackupFreezing:
		if waited := f.now.Sub(startedAt(b)); waited >= freezeAnswer {
			fail(s, f.now, v1alpha1.BackupReasonFreezeTimeout,
				"The agent of pod %s did not report IRIS frozen within %s: is the pod running and can it reach the API server?", b.Status.Pod, freezeAnswer)
		} else {
			st.requeueAfter = freezeAnswer - waited
		}
	case v1alpha1.BackupFrozen:
		// The agent's deadline guards the freeze: if the snapshot cannot
		// be cut in time, the agent thaws IRIS and fails the backup.
		st.createSnapshot = true
		s.Phase = v1alpha1.BackupSnapshotting
		s.Message = fmt.Sprintf("IRIS is frozen; cutting VolumeSnapshot %s", s.SnapshotName)
	case v1alpha1.BackupSnapshotting:
		st = snapshotting(f, s)
	case v1alpha1.BackupThawing:
		if d := b.Status.ThawDeadline; d != nil {
			if late := f.now.Sub(d.Time); late >= thawAnswer {
				fail(s, f.now, v1alpha1.BackupReasonThawDeadline,
					"The agent of pod %s did not report the thaw; it thaws IRIS on its own at the deadline %s", b.Status.Pod, d.UTC().Format(time.RFC3339))
			} else {
				st.requeueAfter = thawAnswer - late
			}
		}
	case v1alpha1.BackupFinalizing:
		finalizing(f, s)
	case v1alpha1.BackupCompleted, v1alpha1.BackupFailed:
		if s.StoppedAt == nil {
			s.StoppedAt = micro(f.now)
		}
	}
	setCompletedCondition(s, b.Generation, f.now)
	st.status = *s
	return st
}

// start checks that the backup can run and moves it to its first step.
// Each check that fails fails the backup at once, with what to do: a
// backup that waits for something nobody is going to fix helps nobody.
func start(f facts, s *v1alpha1.IrisBackupStatus) step {
	b := f.backup
	s.Phase = v1alpha1.BackupPending
	switch {
	case f.instance == nil:
		fail(s, f.now, v1alpha1.BackupReasonInstanceNotFound, "IrisInstance %s does not exist in namespace %s", b.Spec.InstanceName, b.Namespace)
		return step{}
	case f.ahead != "":
		s.Message = fmt.Sprintf("Waiting for IrisBackup %s of the same instance to end: one backup of an instance runs at a time", f.ahead)
		return step{requeueAfter: waitForTurn}
	case f.pvc == nil || f.pvc.Status.Phase != corev1.ClaimBound:
		fail(s, f.now, v1alpha1.BackupReasonVolumeNotBound, "The instance's PersistentVolumeClaim is missing or not bound yet: wait for the instance to start, then create the backup again")
		return step{}
	case f.class == "":
		fail(s, f.now, v1alpha1.BackupReasonNoSnapshotClass, "%s", f.classProblem)
		return step{}
	case b.Spec.IsOnline() && f.readyPod == "":
		fail(s, f.now, v1alpha1.BackupReasonInstanceNotReady,
			"IrisInstance %s has no Ready pod whose agent could freeze IRIS; wait until it is Ready, or set online: false for a crash-consistent snapshot", b.Spec.InstanceName)
		return step{}
	}
	s.StartedAt = micro(f.now)
	s.SnapshotName = b.Name
	s.VolumeSnapshotClassName = f.class
	s.PVC = f.pvc.Name
	if !b.Spec.IsOnline() {
		s.Phase = v1alpha1.BackupSnapshotting
		s.Message = fmt.Sprintf("Cutting crash-consistent VolumeSnapshot %s without freezing IRIS", s.SnapshotName)
		return step{createSnapshot: true}
	}
	s.Phase = v1alpha1.BackupFreezing
	s.Pod = f.readyPod
	s.Message = fmt.Sprintf("Asking the agent of pod %s to freeze IRIS", f.readyPod)
	return step{requeueAfter: freezeAnswer}
}

// snapshotting waits for the cut: a creation time and a bound content.
// That is the moment the data is in the snapshot; readyToUse may come
// minutes later (an upload) and IRIS need not stay frozen for it.
func snapshotting(f facts, s *v1alpha1.IrisBackupStatus) step {
	vs := f.snapshot
	if vs == nil {
		// Not in the cache yet, or deleted by someone: creating it again
		// is harmless while IRIS is still frozen.
		return step{createSnapshot: true}
	}
	if msg := snapshotError(vs); msg != "" {
		fail(s, f.now, v1alpha1.BackupReasonSnapshotFailed, "VolumeSnapshot %s failed: %s", vs.Name, msg)
		return step{}
	}
	if vs.Status == nil || vs.Status.CreationTime == nil || vs.Status.BoundVolumeSnapshotContentName == nil {
		return step{}
	}
	if f.cutAt.IsZero() {
		// Cut, but the content is not in the cache yet: look again soon,
		// IRIS is frozen meanwhile.
		return step{requeueAfter: contentRecheck}
	}
	s.SnapshotCreatedAt = micro(f.cutAt)
	if f.backup.Spec.IsOnline() {
		s.Phase = v1alpha1.BackupThawing
		s.Message = fmt.Sprintf("VolumeSnapshot %s is cut; asking the agent to thaw IRIS", vs.Name)
		return step{}
	}
	s.Phase = v1alpha1.BackupFinalizing
	s.Message = fmt.Sprintf("VolumeSnapshot %s is cut; waiting for it to be ready to use", vs.Name)
	return step{}
}

// finalizing completes the backup once its snapshot is ready to use.
func finalizing(f facts, s *v1alpha1.IrisBackupStatus) {
	vs := f.snapshot
	switch {
	case vs == nil:
		fail(s, f.now, v1alpha1.BackupReasonSnapshotFailed, "VolumeSnapshot %s was deleted before it was ready to use", s.SnapshotName)
	case snapshotError(vs) != "":
		fail(s, f.now, v1alpha1.BackupReasonSnapshotFailed, "VolumeSnapshot %s failed: %s", vs.Name, snapshotError(vs))
	case vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse:
		s.Phase = v1alpha1.BackupCompleted
		s.StoppedAt = micro(f.now)
		s.Reason = ""
		if s.FrozenSeconds != "" {
			s.Message = fmt.Sprintf("VolumeSnapshot %s is ready to use; IRIS was frozen for %s s", vs.Name, s.FrozenSeconds)
		} else {
			s.Message = fmt.Sprintf("Crash-consistent VolumeSnapshot %s is ready to use", vs.Name)
		}
	}
}

func snapshotError(vs *snapshotv1.VolumeSnapshot) string {
	if vs.Status == nil || vs.Status.Error == nil {
		return ""
	}
	if m := vs.Status.Error.Message; m != nil && *m != "" {
		return *m
	}
	return "the snapshotter reported an error without a message"
}

// fail ends the backup. A freeze still held for it is ended by the agent,
// which thaws IRIS as soon as it sees a Failed backup it froze.
func fail(s *v1alpha1.IrisBackupStatus, now time.Time, reason, format string, args ...any) {
	s.Phase = v1alpha1.BackupFailed
	s.Reason = reason
	s.Message = fmt.Sprintf(format, args...)
	s.StoppedAt = micro(now)
}

// setCompletedCondition mirrors the phase into the Completed condition.
func setCompletedCondition(s *v1alpha1.IrisBackupStatus, generation int64, now time.Time) {
	c := metav1.Condition{Type: v1alpha1.BackupConditionCompleted, ObservedGeneration: generation, Message: s.Message}
	switch s.Phase {
	case v1alpha1.BackupCompleted:
		c.Status, c.Reason = metav1.ConditionTrue, "Completed"
	case v1alpha1.BackupFailed:
		c.Status, c.Reason = metav1.ConditionFalse, s.Reason
		if c.Reason == "" {
			c.Reason = "Failed"
		}
	default:
		c.Status, c.Reason = metav1.ConditionUnknown, string(s.Phase)
	}
	if c.Message == "" {
		c.Message = string(s.Phase)
	}
	c.LastTransitionTime = metav1.NewTime(now)
	meta.SetStatusCondition(&s.Conditions, c)
}

func startedAt(b *v1alpha1.IrisBackup) time.Time {
	if b.Status.StartedAt != nil {
		return b.Status.StartedAt.Time
	}
	return b.CreationTimestamp.Time
}

func micro(t time.Time) *metav1.MicroTime {
	m := metav1.NewMicroTime(t)
	return &m
}
