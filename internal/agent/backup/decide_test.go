package backup

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

func TestDecide(t *testing.T) {
	now := time.Now()
	before := now.Add(time.Second) // the deadline is still ahead
	after := now.Add(-time.Second) // the deadline has passed
	mine := func(deadline time.Time) local { return local{own: frozenByMe, deadline: deadline} }
	thawed := local{own: thawedByMe}
	busy := local{busy: true}

	tests := []struct {
		phase v1alpha1.BackupPhase
		local local
		want  action
	}{
		// Phases the operator moves: nothing to do unless a freeze is held.
		{"", local{}, actNone},
		{v1alpha1.BackupPending, local{}, actNone},
		{v1alpha1.BackupPending, busy, actNone},
		{v1alpha1.BackupPending, mine(before), actThawQuietly},
		{v1alpha1.BackupPending, thawed, actForget},

		{v1alpha1.BackupFreezing, local{}, actFreeze},
		{v1alpha1.BackupFreezing, busy, actWaitTurn},
		{v1alpha1.BackupFreezing, mine(before), actRecordFrozen},
		{v1alpha1.BackupFreezing, mine(now), actThawDeadline},
		{v1alpha1.BackupFreezing, mine(after), actThawDeadline},
		{v1alpha1.BackupFreezing, thawed, actRecordThaw},

		{v1alpha1.BackupFrozen, local{}, actThawRestart},
		{v1alpha1.BackupFrozen, busy, actThawRestart},
		{v1alpha1.BackupFrozen, mine(before), actNone},
		{v1alpha1.BackupFrozen, mine(now), actThawDeadline},
		{v1alpha1.BackupFrozen, mine(after), actThawDeadline},
		{v1alpha1.BackupFrozen, thawed, actRecordThaw},

		{v1alpha1.BackupSnapshotting, local{}, actThawRestart},
		{v1alpha1.BackupSnapshotting, busy, actThawRestart},
		{v1alpha1.BackupSnapshotting, mine(before), actNone},
		{v1alpha1.BackupSnapshotting, mine(after), actThawDeadline},
		{v1alpha1.BackupSnapshotting, thawed, actRecordThaw},

		// A thaw request is honoured even past the deadline the timer is
		// about to act on: both end the same freeze, once.
		{v1alpha1.BackupThawing, mine(before), actThawRequest},
		{v1alpha1.BackupThawing, mine(after), actThawRequest},
		{v1alpha1.BackupThawing, thawed, actRecordThaw},
		{v1alpha1.BackupThawing, local{}, actThawRestart},
		{v1alpha1.BackupThawing, busy, actThawRestart},

		{v1alpha1.BackupFinalizing, local{}, actNone},
		{v1alpha1.BackupFinalizing, mine(before), actThawQuietly},
		{v1alpha1.BackupFinalizing, thawed, actForget},
		{v1alpha1.BackupCompleted, local{}, actNone},
		{v1alpha1.BackupCompleted, busy, actNone},
		{v1alpha1.BackupCompleted, mine(before), actThawQuietly},
		{v1alpha1.BackupCompleted, thawed, actForget},
		{v1alpha1.BackupFailed, local{}, actNone},
		{v1alpha1.BackupFailed, busy, actNone},
		{v1alpha1.BackupFailed, mine(after), actThawQuietly},
		{v1alpha1.BackupFailed, thawed, actForget},
	}
	for _, tt := range tests {
		b := &v1alpha1.IrisBackup{Status: v1alpha1.IrisBackupStatus{Phase: tt.phase}}
		if got := decide(b, tt.local, now); got != tt.want {
			t.Errorf("decide(phase %q, own %d, busy %t, deadline %s) = %s, want %s",
				tt.phase, tt.local.own, tt.local.busy, tt.local.deadline.Sub(now), got, tt.want)
		}
	}
}

// TestDecideIgnoresStatusDeadline: only this process's own deadline fires
// the thaw; a status deadline in the past (the agent's clock or the
// operator's may differ) changes nothing while the local one is ahead.
func TestDecideIgnoresStatusDeadline(t *testing.T) {
	now := time.Now()
	b := &v1alpha1.IrisBackup{Status: v1alpha1.IrisBackupStatus{Phase: v1alpha1.BackupSnapshotting,
		ThawDeadline: ptr.To(metav1.NewMicroTime(now.Add(-time.Hour)))}}
	if got := decide(b, local{own: frozenByMe, deadline: now.Add(time.Second)}, now); got != actNone {
		t.Errorf("decide = %s, want %s", got, actNone)
	}
}

func TestThawedStatus(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := freeze{maxFrozen: 10 * time.Second, frozenAt: at, deadline: at.Add(10 * time.Second), thawedAt: at.Add(time.Second)}
	base := v1alpha1.IrisBackupStatus{Phase: v1alpha1.BackupThawing, Pod: "p"}

	f.thawedBy = v1alpha1.ThawRequested
	if s := thawedStatus(base, f); s.Phase != v1alpha1.BackupFinalizing || s.ThawedBy != v1alpha1.ThawRequested ||
		!s.ThawedAt.Time.Equal(f.thawedAt) || s.FrozenSeconds != "1.000" {
		t.Errorf("thaw on request: %+v", s)
	}
	f.thawedBy = v1alpha1.ThawDeadline
	if s := thawedStatus(base, f); s.Phase != v1alpha1.BackupFailed || s.ThawedBy != v1alpha1.ThawDeadline || s.Pod != "p" ||
		s.Reason != v1alpha1.BackupReasonThawDeadline {
		t.Errorf("thaw at the deadline: %+v", s)
	}
	if s := frozenStatus(v1alpha1.IrisBackupStatus{Phase: v1alpha1.BackupFreezing}, "pod-a", f); s.Phase != v1alpha1.BackupFrozen ||
		s.Pod != "pod-a" || !s.ThawDeadline.Time.Equal(f.deadline) || !s.FrozenAt.Time.Equal(at) {
		t.Errorf("frozen: %+v", s)
	}
}

// TestDecideLeavesOfflineBackupsAlone: a crash-consistent backup passes
// through Snapshotting without a freeze; the agent must not take that for a
// freeze lost to a restart.
func TestDecideLeavesOfflineBackupsAlone(t *testing.T) {
	for _, phase := range []v1alpha1.BackupPhase{v1alpha1.BackupPending, v1alpha1.BackupSnapshotting, v1alpha1.BackupFinalizing, v1alpha1.BackupCompleted} {
		b := &v1alpha1.IrisBackup{Spec: v1alpha1.IrisBackupSpec{Online: new(bool)}, Status: v1alpha1.IrisBackupStatus{Phase: phase}}
		if got := decide(b, local{}, time.Now()); got != actNone {
			t.Errorf("offline backup in %s: decide = %s, want %s", phase, got, actNone)
		}
	}
}

func TestFormatSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{412 * time.Millisecond: "0.412", 1500 * time.Microsecond: "0.002", 12 * time.Second: "12.000"} {
		if got := FormatSeconds(d); got != want {
			t.Errorf("FormatSeconds(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestFreezeTimeoutOutlastsTheDeadline(t *testing.T) {
	for _, max := range []int32{0, 2, 10, 300, 600} {
		b := &v1alpha1.IrisBackup{Spec: v1alpha1.IrisBackupSpec{MaxFrozenSeconds: max}}
		got := freezeTimeoutSeconds(b)
		if got < 2*maxFrozenSeconds(b) || got > 1200 {
			t.Errorf("maxFrozenSeconds %d: IRIS freeze timeout %d, want at least twice it and at most 1200", max, got)
		}
	}
}
