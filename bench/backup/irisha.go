package main

import (
	"context"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
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

const (
	irishaNamespace = "bench-irisha"
	irishaInstance  = "iris"
	// irishaImage is kept as the spec's image string; nothing is pulled.
	irishaImage = "containers.intersystems.com/intersystems/iris-community:2025.1"
)

// irishaSetup is the IrisInstance whose backups are taken.
type irishaSetup struct {
	inst *v1alpha1.IrisInstance
	// dataDir is the live ISC_DATA_DIRECTORY on the volume's host directory.
	dataDir string
}

// deployIrisha creates the IrisInstance (class longhorn, everything else
// defaulted) and waits until it runs with its pod Ready.
func deployIrisha(ctx context.Context, c *sim.Cluster, cl client.Client) (*irishaSetup, error) {
	if err := c.CreateNamespace(ctx, irishaNamespace); err != nil {
		return nil, err
	}
	inst := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: irishaNamespace, Name: irishaInstance},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:    irishaImage,
			Storage:  v1alpha1.StorageSpec{ClassName: ptr.To(sim.LonghornClass), Size: resource.MustParse("1Gi")},
			Failover: v1alpha1.FailoverSpec{Mode: v1alpha1.FailoverLease, LeaseDurationSeconds: 10},
		},
	}
	if err := cl.Create(ctx, inst); err != nil {
		return nil, fmt.Errorf("creating IrisInstance %s: %w", inst.Name, err)
	}
	if _, err := sim.WaitForPods(ctx, c.Clientset(), irishaNamespace, resources.LabelIrisInstance+"="+irishaInstance,
		func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) }); err != nil {
		return nil, fmt.Errorf("waiting for the instance's pod: %w", err)
	}
	for inst.Status.Phase != v1alpha1.PhaseRunning {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for IrisInstance %s to be Running (phase %s): %w", inst.Name, inst.Status.Phase, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
	dir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		return nil, err
	}
	return &irishaSetup{inst: inst, dataDir: dir}, nil
}

// backup takes one backup: an IrisBackup (snapshot deletion policy Delete)
// watched until it ends; then its snapshot's copy is read, and the backup
// is deleted with its snapshot.
func (s *irishaSetup) backup(ctx context.Context, c *sim.Cluster, cl client.WithWatch, n int) runResult {
	res := runResult{Setup: setupIrisha, Run: n}
	bk := &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: irishaNamespace, Name: fmt.Sprintf("bench-%03d", n)},
		Spec:       v1alpha1.IrisBackupSpec{InstanceName: irishaInstance, SnapshotDeletionPolicy: v1alpha1.SnapshotDelete},
	}
	var start time.Time
	endedAt, got, err := watchUntil(ctx, cl, &v1alpha1.IrisBackupList{}, bk.Namespace, bk.Name,
		func() error {
			start = time.Now()
			return cl.Create(ctx, bk)
		},
		func(b *v1alpha1.IrisBackup) bool { return b.Status.Phase.Ended() && b.Status.StoppedAt != nil })
	var st v1alpha1.IrisBackupStatus
	if got != nil {
		st = got.Status
	}
	if st.FrozenAt != nil && st.ThawedAt != nil {
		res.FrozenSeconds = seconds64(st.ThawedAt.Sub(st.FrozenAt.Time))
	}
	switch {
	case err != nil:
		res.Error = fmt.Sprintf("%v (phase %s)", err, st.Phase)
	case st.Phase != v1alpha1.BackupCompleted:
		res.Error = fmt.Sprintf("%s: %s", st.Reason, st.Message)
	default:
		res.CompletedSeconds = seconds64(endedAt.Sub(start))
	}
	res.LeftFrozen = leftFrozen(s.dataDir, &res)
	if res.completed() {
		readCut(ctx, c, cl, irishaNamespace, st.SnapshotName, st.FrozenAt.Time, func(context.Context) (string, error) {
			return simirisha.SnapshotDataDir(ctx, c, s.inst, st.SnapshotName)
		}, &res)
	}
	// The snapshot goes with the backup (it owns it, and garbage
	// collection deletes it); wait for both, and the snapshot's content
	// with its copy, so that storage does not pile up.
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: irishaNamespace, Name: st.SnapshotName}}
	if err := deleteAndWait(ctx, cl, bk, vs); err != nil {
		res.Error = join(res.Error, fmt.Sprintf("cleaning up: %v", err))
	}
	return res
}

// leftFrozen says whether IRIS in dataDir is still frozen; a state it
// cannot read is an error of the run (and counts as frozen).
func leftFrozen(dataDir string, res *runResult) bool {
	frozen, err := fakeiris.Frozen(dataDir)
	if err != nil {
		res.Error = join(res.Error, fmt.Sprintf("reading IRIS's state: %v", err))
		return true
	}
	return frozen
}

// readCut records when the snapshot called name was cut (its content's
// creationTime, to the nanosecond) after frozenAt, and whether its copy of
// the volume has IRIS frozen (dataDir finds ISC_DATA_DIRECTORY in the copy).
func readCut(ctx context.Context, c *sim.Cluster, cl client.Client, ns, name string, frozenAt time.Time,
	dataDir func(context.Context) (string, error), res *runResult) {
	vs := &snapshotv1.VolumeSnapshot{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vs); err != nil {
		res.Error = join(res.Error, fmt.Sprintf("reading VolumeSnapshot %s: %v", name, err))
		return
	}
	if vs.Status == nil || vs.Status.BoundVolumeSnapshotContentName == nil {
		res.Error = join(res.Error, fmt.Sprintf("VolumeSnapshot %s has no content", name))
		return
	}
	content := &snapshotv1.VolumeSnapshotContent{}
	if err := cl.Get(ctx, client.ObjectKey{Name: *vs.Status.BoundVolumeSnapshotContentName}, content); err != nil {
		res.Error = join(res.Error, fmt.Sprintf("reading the content of %s: %v", name, err))
		return
	}
	if content.Status == nil || content.Status.CreationTime == nil {
		res.Error = join(res.Error, fmt.Sprintf("VolumeSnapshot %s is not cut", name))
		return
	}
	res.CutSeconds = seconds64(time.Unix(0, *content.Status.CreationTime).Sub(frozenAt))
	dir, err := dataDir(ctx)
	if err != nil {
		res.Error = join(res.Error, err.Error())
		return
	}
	frozen, err := fakeiris.Frozen(dir)
	if err != nil {
		res.Error = join(res.Error, fmt.Sprintf("reading IRIS's state in the snapshot: %v", err))
		return
	}
	res.Consistent = &frozen
}

// deleteAndWait deletes obj and waits until it, the VolumeSnapshot vs
// (obj itself, or one it owns) and vs's content are gone: the content goes
// last, with the snapshot's copy of the volume.
func deleteAndWait(ctx context.Context, cl client.Client, obj client.Object, vs *snapshotv1.VolumeSnapshot) error {
	content, err := contentOf(ctx, cl, vs)
	if err != nil {
		return err
	}
	if err := client.IgnoreNotFound(cl.Delete(ctx, obj)); err != nil {
		return fmt.Errorf("deleting %s: %w", obj.GetName(), err)
	}
	if err := waitGone(ctx, cl, obj); err != nil {
		return err
	}
	if vs.Name != "" {
		if err := waitGone(ctx, cl, vs); err != nil {
			return err
		}
	}
	if content == nil {
		return nil
	}
	return waitGone(ctx, cl, content)
}

// contentOf is the content a VolumeSnapshot is bound to, nil when there is
// no such snapshot or it is not bound.
func contentOf(ctx context.Context, cl client.Client, vs *snapshotv1.VolumeSnapshot) (*snapshotv1.VolumeSnapshotContent, error) {
	if vs.Name == "" {
		return nil, nil
	}
	got := &snapshotv1.VolumeSnapshot{}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(vs), got); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if got.Status == nil || got.Status.BoundVolumeSnapshotContentName == nil {
		return nil, nil
	}
	return &snapshotv1.VolumeSnapshotContent{ObjectMeta: metav1.ObjectMeta{Name: *got.Status.BoundVolumeSnapshotContentName}}, nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
