package simirisha_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

// TestBackupAndRestore: a backup freezes IRIS, cuts the snapshot while it
// is frozen and thaws it; a new instance restored from it holds exactly
// the journal the snapshot cut; a restore onto a claim that exists is
// refused and changes nothing; deleting a backup deletes its snapshot
// unless its policy is Retain.
func TestBackupAndRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, false)
	cl := r.b.client

	time.Sleep(time.Second) // some journal to back up
	bk := newBackup("bk-1", v1alpha1.SnapshotDelete)
	if err := cl.Create(ctx, bk); err != nil {
		t.Fatal(err)
	}
	done := waitBackup(ctx, t, cl, bk.Name, v1alpha1.BackupCompleted)
	s := done.Status
	if s.FrozenAt == nil || s.SnapshotCreatedAt == nil || s.ThawedAt == nil || s.ThawedBy != v1alpha1.ThawRequested {
		t.Fatalf("completed backup lacks its times: %+v", s)
	}
	if !s.FrozenAt.Before(s.SnapshotCreatedAt) || !s.SnapshotCreatedAt.Before(s.ThawedAt) {
		t.Errorf("frozen %s, cut %s, thawed %s: the cut must fall inside the freeze", s.FrozenAt, s.SnapshotCreatedAt, s.ThawedAt)
	}
	if secs, err := strconv.ParseFloat(s.FrozenSeconds, 64); err != nil || secs <= 0 {
		t.Errorf("frozenSeconds %q", s.FrozenSeconds)
	}
	if c := meta.FindStatusCondition(s.Conditions, v1alpha1.BackupConditionCompleted); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Completed condition: %+v", c)
	}

	vs := &snapshotv1.VolumeSnapshot{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.SnapshotName}, vs); err != nil {
		t.Fatal(err)
	}
	if vs.Labels[v1alpha1.LabelInstance] != instName || vs.Annotations[v1alpha1.AnnotationIrisImage] != r.inst.Spec.Image ||
		vs.Annotations[v1alpha1.AnnotationConsistency] != "frozen" || vs.Annotations[v1alpha1.AnnotationStorageSize] != "1Gi" ||
		!metav1.IsControlledBy(vs, done) {
		t.Errorf("snapshot metadata: labels %v annotations %v owners %v", vs.Labels, vs.Annotations, vs.OwnerReferences)
	}
	snapDir, err := simirisha.SnapshotDataDir(ctx, r.b.cluster, r.inst, vs.Name)
	if err != nil {
		t.Fatal(err)
	}
	if frozen, err := fakeiris.Frozen(snapDir); err != nil || !frozen {
		t.Errorf("the snapshot's IRIS state: frozen %t (%v), want cut while frozen", frozen, err)
	}
	cut, err := fakeiris.ReadJournal(snapDir)
	if err != nil {
		t.Fatal(err)
	}
	live, err := fakeiris.ReadJournal(r.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	checkCut(t, live, cut, s.FrozenAt.Time, s.SnapshotCreatedAt.Time)

	// A clone from the backup holds the snapshot's journal and goes on
	// from it; none of what the source wrote after the cut.
	clone := newInstance(v1alpha1.FailoverLease, 5)
	clone.Name = "clone"
	clone.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupName: bk.Name}
	if err := cl.Create(ctx, clone); err != nil {
		t.Fatal(err)
	}
	waitInstance(ctx, t, cl, clone.Name, func(i *v1alpha1.IrisInstance) bool {
		return i.Status.Phase == v1alpha1.PhaseRunning && conditionTrue(i, v1alpha1.ConditionRestored)
	})
	cloneDir, err := simirisha.DataDir(ctx, r.b.cluster, clone)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := simirisha.CheckJournal(cloneDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(restored) < len(cut) {
		t.Fatalf("the clone's journal has %d entries, the snapshot %d", len(restored), len(cut))
	}
	for i := range cut {
		if restored[i] != cut[i] {
			t.Fatalf("the clone's journal differs from the snapshot's at entry %d: %+v, want %+v", i, restored[i], cut[i])
		}
	}
	for _, e := range restored[len(cut):] {
		if e.PID == cut[len(cut)-1].PID {
			t.Fatalf("the clone holds entry %+v the source wrote after the cut", e)
		}
	}

	// A restore onto a claim that exists (left by an earlier instance of
	// the name) is refused, and the claim is left as it was.
	clash := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "clash-data", Labels: map[string]string{resources.LabelIrisInstance: "clash"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: ptr.To(sim.LonghornClass),
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := cl.Create(ctx, clash); err != nil {
		t.Fatal(err)
	}
	onto := newInstance(v1alpha1.FailoverLease, 5)
	onto.Name = "clash"
	onto.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupName: bk.Name}
	if err := cl.Create(ctx, onto); err != nil {
		t.Fatal(err)
	}
	refused := waitInstance(ctx, t, cl, onto.Name, func(i *v1alpha1.IrisInstance) bool {
		c := meta.FindStatusCondition(i.Status.Conditions, v1alpha1.ConditionRestored)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "VolumeExists"
	})
	if refused.Status.Phase != v1alpha1.PhaseDegraded {
		t.Errorf("refused restore: phase %s, want Degraded", refused.Status.Phase)
	}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.DeploymentName(onto)}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Deployment exists for the refused restore (%v): IRIS would start on the wrong data", err)
	}
	after := &corev1.PersistentVolumeClaim{}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(clash), after); err != nil || after.Spec.DataSource != nil || len(after.OwnerReferences) != 0 {
		t.Errorf("the existing claim was changed: %+v (%v)", after, err)
	}

	// Deleting a backup deletes its snapshot; with Retain, it is kept.
	kept := newBackup("bk-retain", v1alpha1.SnapshotRetain)
	if err := cl.Create(ctx, kept); err != nil {
		t.Fatal(err)
	}
	keptDone := waitBackup(ctx, t, cl, kept.Name, v1alpha1.BackupCompleted)
	for _, b := range []*v1alpha1.IrisBackup{done, keptDone} {
		if err := cl.Delete(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := poll(ctx, func(ctx context.Context) bool {
		return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.SnapshotName}, &snapshotv1.VolumeSnapshot{}))
	}); err != nil {
		t.Errorf("the snapshot of a deleted backup (policy Delete) is still there: %v", err)
	}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: keptDone.Status.SnapshotName}, &snapshotv1.VolumeSnapshot{}); err != nil {
		t.Errorf("the snapshot of a deleted backup with policy Retain: %v", err)
	}
	r.checkUntouched(ctx, t)
}

// checkCut: the snapshot's journal is the live journal up to the cut:
// every entry written before the freeze, nothing written after the cut.
func checkCut(t *testing.T, live, cut []fakeiris.JournalEntry, frozenAt, cutAt time.Time) {
	t.Helper()
	if len(cut) == 0 || len(cut) > len(live) {
		t.Fatalf("snapshot journal %d entries, live %d", len(cut), len(live))
	}
	for i := range cut {
		if cut[i] != live[i] {
			t.Fatalf("snapshot journal entry %d is %+v, live %+v", i, cut[i], live[i])
		}
	}
	if last := cut[len(cut)-1]; last.At.After(cutAt) {
		t.Errorf("the snapshot holds entry %+v written after the cut at %s", last, cutAt)
	}
	for _, e := range live[len(cut):] {
		if e.At.Before(frozenAt) {
			t.Errorf("entry %+v, written before the freeze at %s, is not in the snapshot", e, frozenAt)
		}
	}
}

func newBackup(name string, policy v1alpha1.SnapshotDeletionPolicy) *v1alpha1.IrisBackup {
	return &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.IrisBackupSpec{InstanceName: instName, SnapshotDeletionPolicy: policy},
	}
}

// waitBackup waits for a backup to end and fails the test unless it ended
// in phase want.
func waitBackup(ctx context.Context, t *testing.T, cl client.Client, name string, want v1alpha1.BackupPhase) *v1alpha1.IrisBackup {
	t.Helper()
	b := &v1alpha1.IrisBackup{}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err := poll(ctx, func(ctx context.Context) bool {
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, b) == nil && b.Status.Phase.Ended() && b.Status.StoppedAt != nil
	})
	if err != nil || b.Status.Phase != want {
		t.Fatalf("backup %s: phase %s, want %s (%v); status %+v", name, b.Status.Phase, want, err, b.Status)
	}
	return b
}

func waitInstance(ctx context.Context, t *testing.T, cl client.Client, name string, ok func(*v1alpha1.IrisInstance) bool) *v1alpha1.IrisInstance {
	t.Helper()
	i := &v1alpha1.IrisInstance{}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := poll(ctx, func(ctx context.Context) bool {
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, i) == nil && ok(i)
	}); err != nil {
		t.Fatalf("instance %s: %v; status %+v", name, err, i.Status)
	}
	return i
}

// TestBackupFailuresAlwaysThaw: whatever goes wrong mid-backup — the
// snapshot fails, the operator is killed while IRIS is frozen, the agent
// restarts — IRIS ends thawed, the backup ends Failed with the reason, and
// the next backup succeeds.
func TestBackupFailuresAlwaysThaw(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, false)
	c, cl := r.b.cluster, r.b.client

	// The snapshotter fails the cut: thawed at once, Failed, no snapshot left.
	c.FailSnapshots("the volume has no healthy replica")
	failed := newBackup("bk-snapshot-fails", v1alpha1.SnapshotDelete)
	if err := cl.Create(ctx, failed); err != nil {
		t.Fatal(err)
	}
	got := waitBackup(ctx, t, cl, failed.Name, v1alpha1.BackupFailed)
	if got.Status.Reason != v1alpha1.BackupReasonSnapshotFailed {
		t.Errorf("failed snapshot: reason %q (%s), want %s", got.Status.Reason, got.Status.Message, v1alpha1.BackupReasonSnapshotFailed)
	}
	waitThawed(ctx, t, r.dataDir)
	if err := poll(ctx, func(ctx context.Context) bool {
		return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: got.Status.SnapshotName}, &snapshotv1.VolumeSnapshot{}))
	}); err != nil {
		t.Errorf("the failed backup's snapshot is still there: %v", err)
	}
	c.FailSnapshots("")

	// The operator is killed while IRIS is frozen: the agent thaws at the
	// deadline and says why; a new operator leaves the backup Failed.
	c.HoldSnapshots(true)
	orphan := newBackup("bk-operator-killed", v1alpha1.SnapshotDelete)
	orphan.Spec.MaxFrozenSeconds = 3
	if err := cl.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	waitPhase(ctx, t, cl, orphan.Name, v1alpha1.BackupSnapshotting)
	if err := r.b.operator.Kill(); err != nil {
		t.Fatal(err)
	}
	b := waitPhase(ctx, t, cl, orphan.Name, v1alpha1.BackupFailed)
	if b.Status.Reason != v1alpha1.BackupReasonThawDeadline || b.Status.ThawedBy != v1alpha1.ThawDeadline {
		t.Errorf("operator killed: reason %q thawed by %q, want %s by the deadline", b.Status.Reason, b.Status.ThawedBy, v1alpha1.BackupReasonThawDeadline)
	}
	if frozen := b.Status.ThawedAt.Sub(b.Status.FrozenAt.Time); frozen < 3*time.Second || frozen > 5*time.Second {
		t.Errorf("operator killed: IRIS frozen for %s, want the 3 s deadline", frozen)
	}
	waitThawed(ctx, t, r.dataDir)
	if err := r.b.operator.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c.HoldSnapshots(false)
	if b := waitBackup(ctx, t, cl, orphan.Name, v1alpha1.BackupFailed); b.Status.Reason != v1alpha1.BackupReasonThawDeadline {
		t.Errorf("after the operator's restart: reason %q", b.Status.Reason)
	}
	waitBackup(ctx, t, cl, createBackup(ctx, t, cl, "bk-after-operator"), v1alpha1.BackupCompleted)

	// The agent restarts while IRIS is frozen: the new agent did not freeze
	// it, so the snapshot may not be consistent; it thaws and fails it.
	c.HoldSnapshots(true)
	restart := newBackup("bk-agent-restarts", v1alpha1.SnapshotDelete)
	restart.Spec.MaxFrozenSeconds = 60
	if err := cl.Create(ctx, restart); err != nil {
		t.Fatal(err)
	}
	waitPhase(ctx, t, cl, restart.Name, v1alpha1.BackupSnapshotting)
	if err := c.CrashContainer(ctx, ns, r.pod.Name, resources.ContainerName); err != nil {
		t.Fatal(err)
	}
	b = waitBackup(ctx, t, cl, restart.Name, v1alpha1.BackupFailed)
	if b.Status.Reason != v1alpha1.BackupReasonRestarted {
		t.Errorf("agent restarted: reason %q (%s), want %s", b.Status.Reason, b.Status.Message, v1alpha1.BackupReasonRestarted)
	}
	c.HoldSnapshots(false)
	readyOnly(ctx, t, c)
	waitThawed(ctx, t, r.dataDir)
	waitBackup(ctx, t, cl, createBackup(ctx, t, cl, "bk-after-agent"), v1alpha1.BackupCompleted)
	if _, err := simirisha.CheckJournal(r.dataDir); err != nil {
		t.Error(err)
	}
}

func createBackup(ctx context.Context, t *testing.T, cl client.Client, name string) string {
	t.Helper()
	if err := cl.Create(ctx, newBackup(name, v1alpha1.SnapshotDelete)); err != nil {
		t.Fatal(err)
	}
	return name
}

func waitPhase(ctx context.Context, t *testing.T, cl client.Client, name string, phase v1alpha1.BackupPhase) *v1alpha1.IrisBackup {
	t.Helper()
	b := &v1alpha1.IrisBackup{}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := poll(ctx, func(ctx context.Context) bool {
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, b) == nil && b.Status.Phase == phase
	}); err != nil {
		t.Fatalf("backup %s: waiting for %s: %v; status %+v", name, phase, err, b.Status)
	}
	return b
}

// waitThawed waits until IRIS in dataDir is not frozen.
func waitThawed(ctx context.Context, t *testing.T, dataDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := poll(ctx, func(context.Context) bool {
		frozen, err := fakeiris.Frozen(dataDir)
		return err == nil && !frozen
	}); err != nil {
		t.Fatalf("IRIS in %s is still frozen: %v", dataDir, err)
	}
}
