package backup

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name; -update rewrites it. Review the
// diff: it is exactly what users see change.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s; run with -update and review the diff.\ngot:\n%s", path, got)
	}
}

var now = time.Date(2026, 3, 1, 2, 10, 0, 0, time.UTC)

func at(d time.Duration) *metav1.MicroTime {
	m := metav1.NewMicroTime(time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC).Add(d))
	return &m
}

func completed() *v1alpha1.IrisBackup {
	return &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "iris-20260301020000", Namespace: "prod", UID: "u1",
			CreationTimestamp: metav1.NewTime(at(0).Time),
			Labels:            map[string]string{v1alpha1.LabelScheduledBackup: "nightly"}},
		Spec: v1alpha1.IrisBackupSpec{InstanceName: "iris", Online: ptr.To(true), MaxFrozenSeconds: 10, SnapshotDeletionPolicy: v1alpha1.SnapshotDelete},
		Status: v1alpha1.IrisBackupStatus{
			Phase: v1alpha1.BackupCompleted, Message: "VolumeSnapshot iris-20260301020000 is ready to use; IRIS was frozen for 0.412 s",
			SnapshotName: "iris-20260301020000", VolumeSnapshotClassName: "longhorn-snap", PVC: "iris-data", Pod: "iris-7d9f8c-x2x4q",
			StartedAt: at(100 * time.Millisecond), FrozenAt: at(312 * time.Millisecond), ThawDeadline: at(10312 * time.Millisecond),
			SnapshotCreatedAt: at(601 * time.Millisecond), ThawedAt: at(724 * time.Millisecond), ThawedBy: v1alpha1.ThawRequested,
			FrozenSeconds: "0.412", StoppedAt: at(2300 * time.Millisecond),
			Conditions: []metav1.Condition{{Type: v1alpha1.BackupConditionCompleted, Status: metav1.ConditionTrue, Reason: "Completed",
				Message: "VolumeSnapshot iris-20260301020000 is ready to use; IRIS was frozen for 0.412 s", LastTransitionTime: metav1.NewTime(at(2300 * time.Millisecond).Time)}},
		},
	}
}

func TestTable(t *testing.T) {
	failed := completed()
	failed.Name, failed.CreationTimestamp = "iris-20260301010000", metav1.NewTime(at(-time.Hour).Time)
	failed.Status = v1alpha1.IrisBackupStatus{Phase: v1alpha1.BackupFailed, Reason: v1alpha1.BackupReasonFreezeTimeout, SnapshotName: ""}
	running := completed()
	running.Name, running.CreationTimestamp = "before-upgrade", metav1.NewTime(now.Add(-5*time.Second))
	running.Status = v1alpha1.IrisBackupStatus{Phase: v1alpha1.BackupFinalizing, FrozenSeconds: "0.388", SnapshotName: "before-upgrade"}
	other := completed()
	other.Namespace, other.Name, other.CreationTimestamp = "test", "iris-20260228020000", metav1.NewTime(at(-24*time.Hour).Time)
	fresh := completed()
	fresh.Name, fresh.CreationTimestamp, fresh.Status = "just-now", metav1.NewTime(now), v1alpha1.IrisBackupStatus{}

	items := []v1alpha1.IrisBackup{*failed, *other, *completed(), *running, *fresh}
	newestFirst(items)
	var b bytes.Buffer
	if err := writeTable(&b, items, false, now); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n")
	if err := writeTable(&b, items, true, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "list.golden.txt", b.String())
}

func TestDescribe(t *testing.T) {
	size := resource.MustParse("10Gi")
	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "iris-20260301020000", Namespace: "prod",
			Annotations: map[string]string{
				v1alpha1.AnnotationIrisImage:        "containers.intersystems.com/intersystems/iris-community:2025.1",
				v1alpha1.AnnotationStorageSize:      "10Gi",
				v1alpha1.AnnotationDataSubdirectory: "IRIS",
				v1alpha1.AnnotationCPFHash:          "3f2a9c0d1e4b5a6f7c8d",
				v1alpha1.AnnotationConsistency:      "frozen",
				"snapshot.storage.kubernetes.io/x":  "not irisha's",
			}},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To("iris-data")},
			VolumeSnapshotClassName: ptr.To("longhorn-snap"),
		},
		Status: &snapshotv1.VolumeSnapshotStatus{ReadyToUse: ptr.To(true), RestoreSize: &size,
			CreationTime: ptr.To(metav1.NewTime(at(0).Time)), BoundVolumeSnapshotContentName: ptr.To("snapcontent-9b1f")},
	}
	events := []corev1.Event{
		{Type: corev1.EventTypeNormal, Reason: "Freezing", Message: "Asking the agent of pod iris-7d9f8c-x2x4q to freeze IRIS",
			ReportingController: "irisha-backup", EventTime: metav1.NewMicroTime(at(100 * time.Millisecond).Time)},
		{Type: corev1.EventTypeNormal, Reason: "Completed", Message: "VolumeSnapshot iris-20260301020000 is ready to use; IRIS was frozen for 0.412 s",
			Source: corev1.EventSource{Component: "irisha-backup"}, LastTimestamp: metav1.NewTime(at(2300 * time.Millisecond).Time), Count: 2},
	}
	var b bytes.Buffer
	if err := writeDescription(&b, &description{Backup: completed(), VolumeSnapshot: vs, Events: events}, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "describe-completed.golden.txt", b.String())

	failed := completed()
	failed.Labels = nil
	failed.Spec.Online = ptr.To(false)
	failed.Status = v1alpha1.IrisBackupStatus{Phase: v1alpha1.BackupFailed, Reason: v1alpha1.BackupReasonSnapshotFailed,
		Message: "VolumeSnapshot iris-20260301020000 failed: the driver cannot snapshot this volume", SnapshotName: "iris-20260301020000",
		StartedAt: at(0), StoppedAt: at(time.Second)}
	b.Reset()
	if err := writeDescription(&b, &description{Backup: failed, VolumeSnapshotProblem: "deleted: the backup failed, so it may not be consistent",
		EventsProblem: "cannot be read: events is forbidden"}, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "describe-failed.golden.txt", b.String())
}

func TestProgressLines(t *testing.T) {
	var lines []string
	for _, tc := range []struct {
		elapsed time.Duration
		p       progress
	}{
		{0, progress{}},
		{120 * time.Millisecond, progress{phase: v1alpha1.BackupFreezing, message: "Asking the agent of pod iris-0 to freeze IRIS"}},
		{310 * time.Millisecond, progress{phase: v1alpha1.BackupFrozen}},
		{42 * time.Second, progress{phase: v1alpha1.BackupFinalizing, message: "waiting"}},
		{65 * time.Second, progress{phase: v1alpha1.BackupFailed, reason: "ThawDeadline", message: "The agent did not report the thaw"}},
	} {
		lines = append(lines, tc.p.Line(tc.elapsed))
	}
	want := []string{
		"   0.0s  Created       waiting for the irisha operator to start the backup",
		"   0.1s  Freezing      Asking the agent of pod iris-0 to freeze IRIS",
		"   0.3s  Frozen",
		"  42.0s  Finalizing    waiting",
		"  1m05s  Failed        ThawDeadline: The agent did not report the thaw",
	}
	if got := strings.Join(lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("progress lines:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestNames(t *testing.T) {
	stamp := time.Date(2026, 3, 1, 2, 0, 0, 0, time.FixedZone("CET", 3600))
	if got := defaultName("iris", stamp); got != "iris-20260301010000" {
		t.Errorf("defaultName = %s: the time must be UTC", got)
	}
	long := strings.Repeat("a", 50) + "-" + strings.Repeat("b", 12)
	got := defaultName(long, stamp)
	if len(got) > 63 || !strings.HasSuffix(got, "-20260301010000") || strings.Contains(got, "--") {
		t.Errorf("defaultName of a 63-character instance = %s (%d characters)", got, len(got))
	}
	if err := backupName(strings.Repeat("x", 64)); err == nil || !strings.Contains(err.Error(), "at most 63") {
		t.Errorf("a 64-character name: %v", err)
	}
	if err := backupName("Bad_Name"); err == nil || !strings.Contains(err.Error(), "not a valid name") {
		t.Errorf("Bad_Name: %v", err)
	}
}
