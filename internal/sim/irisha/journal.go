package simirisha

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
)

// DataDir is the host directory the instance's pods see as
// ISC_DATA_DIRECTORY: its claim's PV directory plus the data subdirectory.
// The claim must be bound.
func DataDir(ctx context.Context, c *sim.Cluster, inst *v1alpha1.IrisInstance) (string, error) {
	pvc := &corev1.PersistentVolumeClaim{}
	key := client.ObjectKey{Namespace: inst.Namespace, Name: resources.PVCName(inst)}
	if err := c.Client().Get(ctx, key, pvc); err != nil {
		return "", fmt.Errorf("reading claim %s: %w", key, err)
	}
	if pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("claim %s is not bound yet", key)
	}
	sub := strings.TrimPrefix(resources.DataDirectory(inst), resources.DataMountPath)
	return filepath.Join(c.VolumeDir(pvc.Spec.VolumeName), sub), nil
}

// SnapshotDataDir is ISC_DATA_DIRECTORY inside a cut VolumeSnapshot's copy
// of inst's volume: what a restore from it will hold.
func SnapshotDataDir(ctx context.Context, c *sim.Cluster, inst *v1alpha1.IrisInstance, snapshot string) (string, error) {
	dir, err := SnapshotCopy(ctx, c, inst.Namespace, snapshot)
	if err != nil {
		return "", err
	}
	sub := strings.TrimPrefix(resources.DataDirectory(inst), resources.DataMountPath)
	return filepath.Join(dir, sub), nil
}

// SnapshotCopy is the host directory holding a cut VolumeSnapshot's copy
// of its whole volume (the volume's root, as VolumeDir is the live one's).
func SnapshotCopy(ctx context.Context, c *sim.Cluster, namespace, snapshot string) (string, error) {
	vs := &snapshotv1.VolumeSnapshot{}
	if err := c.Client().Get(ctx, client.ObjectKey{Namespace: namespace, Name: snapshot}, vs); err != nil {
		return "", fmt.Errorf("reading VolumeSnapshot %s: %w", snapshot, err)
	}
	if vs.Status == nil || vs.Status.BoundVolumeSnapshotContentName == nil {
		return "", fmt.Errorf("VolumeSnapshot %s is not bound to a content yet", snapshot)
	}
	content := &snapshotv1.VolumeSnapshotContent{}
	if err := c.Client().Get(ctx, client.ObjectKey{Name: *vs.Status.BoundVolumeSnapshotContentName}, content); err != nil {
		return "", fmt.Errorf("reading the content of VolumeSnapshot %s: %w", snapshot, err)
	}
	if content.Status == nil || content.Status.SnapshotHandle == nil {
		return "", fmt.Errorf("VolumeSnapshot %s is not cut yet", snapshot)
	}
	return c.SnapshotDir(*content.Status.SnapshotHandle), nil
}

// CheckJournal reads the fake IRIS's journal in dataDir and checks W1 on
// it: one writer at every moment (fakeiris.CheckSingleWriter). It returns
// the entries, for the caller's own checks (writers, loss).
func CheckJournal(dataDir string) ([]fakeiris.JournalEntry, error) {
	entries, err := fakeiris.ReadJournal(dataDir)
	if err != nil {
		return nil, err
	}
	if err := fakeiris.CheckSingleWriter(entries); err != nil {
		return entries, fmt.Errorf("W1 violated in %s: %w", dataDir, err)
	}
	return entries, nil
}

// Writers are the PIDs that wrote the journal, in the order they took over.
func Writers(entries []fakeiris.JournalEntry) []int {
	var out []int
	for i, e := range entries {
		if i == 0 || e.PID != entries[i-1].PID {
			out = append(out, e.PID)
		}
	}
	return out
}
