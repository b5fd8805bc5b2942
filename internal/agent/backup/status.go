package backup

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

// frozenStatus records a freeze and its deadline, so the operator knows
// how long it has to take the snapshot.
func frozenStatus(s v1alpha1.IrisBackupStatus, pod string, f freeze) v1alpha1.IrisBackupStatus {
	s.Phase = v1alpha1.BackupFrozen
	s.Pod = pod
	s.FrozenAt = ptr.To(metav1.NewMicroTime(f.frozenAt))
	s.ThawDeadline = ptr.To(metav1.NewMicroTime(f.deadline))
	s.Message = fmt.Sprintf("IRIS is frozen; the agent thaws it on its own at the deadline (%s after the freeze)", f.maxFrozen)
	return s
}

// thawedStatus records the end of a freeze this process held. Only a thaw
// the operator asked for lets the backup go on to Finalizing (the operator
// waits there for the snapshot to be ready): after the deadline the
// operator may have taken the snapshot of a thawed volume.
func thawedStatus(s v1alpha1.IrisBackupStatus, f freeze) v1alpha1.IrisBackupStatus {
	s = recordThaw(s, f)
	frozenFor := f.thawedAt.Sub(f.frozenAt).Round(time.Millisecond)
	switch f.thawedBy {
	case v1alpha1.ThawRequested:
		s.Phase = v1alpha1.BackupFinalizing
		s.Message = fmt.Sprintf("IRIS was frozen for %s; waiting for the snapshot to be ready to use", frozenFor)
	default:
		s.Phase = v1alpha1.BackupFailed
		s.Reason = v1alpha1.BackupReasonThawDeadline
		s.Message = fmt.Sprintf("The agent thawed IRIS at the deadline: nobody asked for a thaw within %s (frozen for %s)", f.maxFrozen, frozenFor)
	}
	return s
}

// recordThaw writes when and why a freeze ended and how long it lasted,
// leaving the phase alone.
func recordThaw(s v1alpha1.IrisBackupStatus, f freeze) v1alpha1.IrisBackupStatus {
	s.ThawedAt = ptr.To(metav1.NewMicroTime(f.thawedAt))
	s.ThawedBy = f.thawedBy
	s.FrozenSeconds = FormatSeconds(f.thawedAt.Sub(f.frozenAt))
	return s
}

// FormatSeconds prints a duration as seconds to the millisecond, "0.412".
func FormatSeconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Round(time.Millisecond).Seconds())
}

// restartedStatus fails a backup whose freeze was not this process's: IRIS
// or its agent restarted, so the volume was not frozen throughout.
func restartedStatus(s v1alpha1.IrisBackupStatus, now time.Time, thawErr error) v1alpha1.IrisBackupStatus {
	s.Phase = v1alpha1.BackupFailed
	s.Reason = v1alpha1.BackupReasonRestarted
	s.ThawedBy = v1alpha1.ThawRestart
	if thawErr != nil {
		s.Message = fmt.Sprintf("IRIS or its agent restarted while the backup was frozen, and thawing failed: %v", thawErr)
		return s
	}
	s.ThawedAt = ptr.To(metav1.NewMicroTime(now))
	s.Message = "IRIS or its agent restarted while the backup was frozen; the agent thawed IRIS"
	return s
}

// failedStatus fails a backup with the reason.
func failedStatus(s v1alpha1.IrisBackupStatus, reason, format string, args ...any) v1alpha1.IrisBackupStatus {
	s.Phase = v1alpha1.BackupFailed
	s.Reason = reason
	s.Message = fmt.Sprintf(format, args...)
	return s
}
