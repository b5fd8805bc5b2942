package backup

import (
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func ready() facts {
	return facts{
		backup:   &v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Name: "bk", Namespace: "ns", Generation: 1}, Spec: v1alpha1.IrisBackupSpec{InstanceName: "iris"}},
		instance: &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: "iris", Namespace: "ns"}},
		pvc:      &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "iris-data"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
		readyPod: "iris-abc",
		class:    "longhorn-snap",
		now:      t0,
	}
}

func withPhase(f facts, p v1alpha1.BackupPhase, online bool) facts {
	f.backup = f.backup.DeepCopy()
	f.backup.Spec.Online = &online
	f.backup.Status.Phase = p
	f.backup.Status.SnapshotName = "bk"
	f.backup.Status.StartedAt = micro(t0.Add(-time.Second))
	return f
}

func cut(ready bool) *snapshotv1.VolumeSnapshot {
	content := "snapcontent-1"
	created := metav1.NewTime(t0.Add(-100 * time.Millisecond))
	return &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "bk"},
		Status: &snapshotv1.VolumeSnapshotStatus{CreationTime: &created, BoundVolumeSnapshotContentName: &content, ReadyToUse: &ready}}
}

func TestStartChecksBeforeFreezing(t *testing.T) {
	tests := []struct {
		name   string
		change func(*facts)
		reason string
	}{
		{"no instance", func(f *facts) { f.instance = nil }, v1alpha1.BackupReasonInstanceNotFound},
		{"no claim", func(f *facts) { f.pvc = nil }, v1alpha1.BackupReasonVolumeNotBound},
		{"claim pending", func(f *facts) { f.pvc.Status.Phase = corev1.ClaimPending }, v1alpha1.BackupReasonVolumeNotBound},
		{"no class", func(f *facts) { f.class, f.classProblem = "", "create one" }, v1alpha1.BackupReasonNoSnapshotClass},
		{"no ready pod", func(f *facts) { f.readyPod = "" }, v1alpha1.BackupReasonInstanceNotReady},
	}
	for _, tt := range tests {
		f := ready()
		tt.change(&f)
		st := next(f)
		if st.status.Phase != v1alpha1.BackupFailed || st.status.Reason != tt.reason || st.createSnapshot {
			t.Errorf("%s: phase %s reason %q snapshot %t, want Failed %s and no snapshot", tt.name, st.status.Phase, st.status.Reason, st.createSnapshot, tt.reason)
		}
		c := meta.FindStatusCondition(st.status.Conditions, v1alpha1.BackupConditionCompleted)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.reason || c.ObservedGeneration != 1 {
			t.Errorf("%s: condition %+v, want Completed False %s at generation 1", tt.name, c, tt.reason)
		}
	}
}

func TestStart(t *testing.T) {
	st := next(ready())
	s := st.status
	if s.Phase != v1alpha1.BackupFreezing || s.Pod != "iris-abc" || s.SnapshotName != "bk" || s.VolumeSnapshotClassName != "longhorn-snap" ||
		s.PVC != "iris-data" || s.StartedAt == nil || st.createSnapshot {
		t.Errorf("online start: %+v, create %t", s, st.createSnapshot)
	}
	f := ready()
	f.readyPod = ""
	f.backup.Spec.Online = new(bool)
	st = next(f)
	if st.status.Phase != v1alpha1.BackupSnapshotting || !st.createSnapshot {
		t.Errorf("offline start without a ready pod: phase %s create %t, want Snapshotting and create", st.status.Phase, st.createSnapshot)
	}
	f = ready()
	f.ahead = "older"
	st = next(f)
	if st.status.Phase != v1alpha1.BackupPending || st.requeueAfter == 0 || !strings.Contains(st.status.Message, "older") {
		t.Errorf("behind another backup: %+v requeue %s", st.status, st.requeueAfter)
	}
}

// TestThawOnlyAfterTheCut is the consistency rule: IRIS is thawed only
// once the snapshot has a creation time and a bound content, and never
// waits for readyToUse.
func TestThawOnlyAfterTheCut(t *testing.T) {
	f := withPhase(ready(), v1alpha1.BackupSnapshotting, true)
	content := "snapcontent-1"
	created := metav1.NewTime(t0)
	for _, vs := range []*snapshotv1.VolumeSnapshot{
		nil,
		{ObjectMeta: metav1.ObjectMeta{Name: "bk"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bk"}, Status: &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: &content}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bk"}, Status: &snapshotv1.VolumeSnapshotStatus{CreationTime: &created}},
	} {
		f.snapshot = vs
		if st := next(f); st.status.Phase != v1alpha1.BackupSnapshotting {
			t.Errorf("snapshot %+v not cut: phase %s, want Snapshotting", vs, st.status.Phase)
		}
	}
	f.snapshot = cut(false)
	if st := next(f); st.status.Phase != v1alpha1.BackupSnapshotting || st.requeueAfter == 0 {
		t.Errorf("cut, but its content not read yet: phase %s requeue %s, want Snapshotting and a look again soon", st.status.Phase, st.requeueAfter)
	}
	f.cutAt = t0.Add(-100 * time.Millisecond)
	st := next(f)
	if st.status.Phase != v1alpha1.BackupThawing || st.status.SnapshotCreatedAt == nil {
		t.Errorf("cut, not ready: %+v, want Thawing with the cut time", st.status)
	}
	off := withPhase(ready(), v1alpha1.BackupSnapshotting, false)
	off.snapshot = cut(false)
	off.cutAt = t0
	if st := next(off); st.status.Phase != v1alpha1.BackupFinalizing {
		t.Errorf("offline, cut: phase %s, want Finalizing", st.status.Phase)
	}
}

func TestSnapshotErrorFailsTheBackup(t *testing.T) {
	msg := "volume is degraded"
	for _, p := range []v1alpha1.BackupPhase{v1alpha1.BackupSnapshotting, v1alpha1.BackupFinalizing} {
		f := withPhase(ready(), p, true)
		f.snapshot = cut(false)
		f.snapshot.Status.Error = &snapshotv1.VolumeSnapshotError{Message: &msg}
		st := next(f)
		if st.status.Phase != v1alpha1.BackupFailed || st.status.Reason != v1alpha1.BackupReasonSnapshotFailed || !strings.Contains(st.status.Message, msg) {
			t.Errorf("%s with a snapshot error: %+v", p, st.status)
		}
	}
}

func TestFinalizingCompletesWhenReady(t *testing.T) {
	f := withPhase(ready(), v1alpha1.BackupFinalizing, true)
	f.backup.Status.FrozenSeconds = "0.120"
	f.snapshot = cut(false)
	if st := next(f); st.status.Phase != v1alpha1.BackupFinalizing {
		t.Errorf("not ready: phase %s", st.status.Phase)
	}
	f.snapshot = cut(true)
	st := next(f)
	c := meta.FindStatusCondition(st.status.Conditions, v1alpha1.BackupConditionCompleted)
	if st.status.Phase != v1alpha1.BackupCompleted || st.status.StoppedAt == nil || c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ready: %+v", st.status)
	}
	f.snapshot = nil
	if st := next(f); st.status.Reason != v1alpha1.BackupReasonSnapshotFailed {
		t.Errorf("snapshot deleted while finalizing: %+v", st.status)
	}
}

// TestWaitsForTheAgentAreBounded: a backup never waits forever for an
// agent that cannot answer.
func TestWaitsForTheAgentAreBounded(t *testing.T) {
	f := withPhase(ready(), v1alpha1.BackupFreezing, true)
	if st := next(f); st.status.Phase != v1alpha1.BackupFreezing || st.requeueAfter <= 0 || st.requeueAfter > freezeAnswer {
		t.Errorf("freezing, just started: %s requeue %s", st.status.Phase, st.requeueAfter)
	}
	f.now = t0.Add(freezeAnswer)
	if st := next(f); st.status.Reason != v1alpha1.BackupReasonFreezeTimeout {
		t.Errorf("freezing for %s: %+v", freezeAnswer, st.status)
	}
	th := withPhase(ready(), v1alpha1.BackupThawing, true)
	th.backup.Status.ThawDeadline = micro(t0)
	if st := next(th); st.status.Phase != v1alpha1.BackupThawing || st.requeueAfter != thawAnswer {
		t.Errorf("thawing at the deadline: %s requeue %s", st.status.Phase, st.requeueAfter)
	}
	th.now = t0.Add(thawAnswer)
	if st := next(th); st.status.Reason != v1alpha1.BackupReasonThawDeadline {
		t.Errorf("thawing, %s past the deadline: %+v", thawAnswer, st.status)
	}
}

func TestEndedBackupsStayEnded(t *testing.T) {
	for _, p := range []v1alpha1.BackupPhase{v1alpha1.BackupCompleted, v1alpha1.BackupFailed} {
		f := withPhase(ready(), p, true)
		f.instance, f.pvc, f.readyPod = nil, nil, ""
		st := next(f)
		if st.status.Phase != p || st.createSnapshot || st.status.StoppedAt == nil {
			t.Errorf("%s: %+v create %t", p, st.status, st.createSnapshot)
		}
		again := f
		again.backup = f.backup.DeepCopy()
		again.backup.Status = st.status
		if st2 := next(again); !equalStatus(st2.status, st.status) {
			t.Errorf("%s: a second pass changed the status: %+v -> %+v", p, st.status, st2.status)
		}
	}
}

func equalStatus(a, b v1alpha1.IrisBackupStatus) bool {
	return a.Phase == b.Phase && a.Reason == b.Reason && a.Message == b.Message && a.StoppedAt.Equal(b.StoppedAt) && len(a.Conditions) == len(b.Conditions)
}

func TestPickClass(t *testing.T) {
	def := map[string]string{annDefaultSnapshotClass: "true"}
	classes := []snapshotv1.VolumeSnapshotClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "lh-snap", Annotations: def}, Driver: "driver.longhorn.io"},
		{ObjectMeta: metav1.ObjectMeta{Name: "lh-bak"}, Driver: "driver.longhorn.io"},
		{ObjectMeta: metav1.ObjectMeta{Name: "ebs", Annotations: def}, Driver: "ebs.csi.aws.com"},
	}
	if c, p := pickClass("", classes, "driver.longhorn.io"); c != "lh-snap" || p != "" {
		t.Errorf("default: %q %q", c, p)
	}
	if c, _ := pickClass("lh-bak", classes, "driver.longhorn.io"); c != "lh-bak" {
		t.Errorf("named: %q", c)
	}
	if c, p := pickClass("nope", classes, "driver.longhorn.io"); c != "" || !strings.Contains(p, "nope") {
		t.Errorf("missing named: %q %q", c, p)
	}
	if c, p := pickClass("", classes, "pd.csi.storage.gke.io"); c != "" || !strings.Contains(p, "pd.csi.storage.gke.io") || !strings.Contains(p, annDefaultSnapshotClass) {
		t.Errorf("no default: %q %q", c, p)
	}
	two := append(classes, snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: "lh-2", Annotations: def}, Driver: "driver.longhorn.io"})
	if c, p := pickClass("", two, "driver.longhorn.io"); c != "" || !strings.Contains(p, "2 default") {
		t.Errorf("two defaults: %q %q", c, p)
	}
}
