package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/reference"
)

// poll checks a condition on objects that this test alone changes; the
// orderings that matter (creationTime before readyToUse) are asserted on
// what each poll sees.
func poll(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return cond()
	}); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestStorageSnapshotRestoreExpandLocal(t *testing.T) {
	timings := sim.FastTimings()
	timings.SnapshotReadyDelay = time.Second
	timings.SnapshotCutDelay = 300 * time.Millisecond
	c := startCluster(t, sim.Options{Nodes: 2, Timings: timings})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cl := c.Client()
	pod := deployReference(ctx, t, c, "ref", sim.LonghornClass)
	pv := pvOf(ctx, t, c, "ref")
	if err := os.WriteFile(filepath.Join(c.VolumeDir(pv), "IRIS.DAT"), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Snapshot: cut after the cut delay; creationTime (the cut) is
	// reported before readyToUse.
	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ref", Name: "snap"},
		Spec: snapshotv1.VolumeSnapshotSpec{
			VolumeSnapshotClassName: ptr(sim.SnapshotClass),
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr(reference.PVC)},
		},
	}
	asked := time.Now()
	if err := cl.Create(ctx, vs); err != nil {
		t.Fatal(err)
	}
	sawCutNotReady := false
	poll(ctx, t, "the snapshot to be ready", func() (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(vs), vs); err != nil {
			return false, err
		}
		st := vs.Status
		if st == nil {
			return false, nil
		}
		ready := st.ReadyToUse != nil && *st.ReadyToUse
		if ready && st.CreationTime == nil {
			t.Fatal("readyToUse without creationTime")
		}
		sawCutNotReady = sawCutNotReady || (st.CreationTime != nil && !ready)
		return ready, nil
	})
	if !sawCutNotReady {
		t.Error("never saw creationTime before readyToUse")
	}

	// Restore into a new PVC: the data comes back.
	restored := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ref", Name: "restored"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr(sim.LonghornClass),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
			DataSource:       &corev1.TypedLocalObjectReference{APIGroup: ptr(snapshotv1.GroupName), Kind: "VolumeSnapshot", Name: "snap"},
		},
	}
	if err := cl.Create(ctx, restored); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the restored claim to bind", func() (bool, error) {
		err := cl.Get(ctx, client.ObjectKeyFromObject(restored), restored)
		return err == nil && restored.Status.Phase == corev1.ClaimBound, err
	})
	if b, err := os.ReadFile(filepath.Join(c.VolumeDir(restored.Spec.VolumeName), "IRIS.DAT")); err != nil || string(b) != "data" {
		t.Fatalf("restored data %q, %v", b, err)
	}

	// Deleting the snapshot deletes its content and its copy (the class's
	// deletionPolicy is Delete): snapshots do not pile up.
	content := &snapshotv1.VolumeSnapshotContent{}
	if err := cl.Get(ctx, client.ObjectKey{Name: *vs.Status.BoundVolumeSnapshotContentName}, content); err != nil {
		t.Fatal(err)
	}
	if cut := time.Unix(0, *content.Status.CreationTime); cut.Sub(asked) < timings.SnapshotCutDelay {
		t.Errorf("cut %s after the snapshot was created, before the cut delay %s", cut.Sub(asked), timings.SnapshotCutDelay)
	}
	copyDir := c.SnapshotDir(*content.Status.SnapshotHandle)
	if err := cl.Delete(ctx, vs); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the deleted snapshot's content to go", func() (bool, error) {
		err := cl.Get(ctx, client.ObjectKeyFromObject(content), content)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if _, err := os.Stat(copyDir); !os.IsNotExist(err) {
		t.Errorf("the deleted snapshot's copy %s is still there (%v)", copyDir, err)
	}

	// Online expansion while the pod uses the volume.
	pvc := &corev1.PersistentVolumeClaim{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "ref", Name: reference.PVC}, pvc); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(pvc.DeepCopy())
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("20Gi")
	if err := cl.Patch(ctx, pvc, patch); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the claim to grow", func() (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(pvc), pvc); err != nil {
			return false, err
		}
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		return q.Cmp(resource.MustParse("20Gi")) == 0, nil
	})
	if p, err := c.Clientset().CoreV1().Pods("ref").Get(ctx, pod.Name, metav1.GetOptions{}); err != nil || !sim.PodReady(p) {
		t.Fatalf("the pod must keep running through an online expansion: %v", err)
	}

	// local-disk: the PV is pinned to the node the pod was scheduled on.
	local := deployReference(ctx, t, c, "local", sim.LocalClass)
	lpv, err := c.Clientset().CoreV1().PersistentVolumes().Get(ctx, pvOf(ctx, t, c, "local"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	terms := lpv.Spec.NodeAffinity.Required.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchExpressions[0].Values[0] != local.Spec.NodeName {
		t.Fatalf("local PV affinity %+v, want node %s", terms, local.Spec.NodeName)
	}
}

func ptr[T any](v T) *T { return &v }

// TestAttacherAttachesAVolumeOnce: VolumeAttachments of one RWO volume for
// every node, created at once as racing attach decisions would be: the block
// store attaches the volume to exactly one node although the attacher's
// workers run concurrently, and to another only once that one detached.
func TestAttacherAttachesAVolumeOnce(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cl := c.Client()
	const ns = "race"
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr(sim.LonghornClass),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := cl.Create(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the claim to be bound", func() (bool, error) {
		err := cl.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)
		return err == nil && pvc.Spec.VolumeName != "", err
	})
	pv := pvc.Spec.VolumeName
	vas := map[string]*storagev1.VolumeAttachment{}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, n := range c.Nodes() {
		va := &storagev1.VolumeAttachment{
			ObjectMeta: metav1.ObjectMeta{Name: "race-" + n.Name},
			Spec: storagev1.VolumeAttachmentSpec{Attacher: sim.LonghornDriver, NodeName: n.Name,
				Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &pv}},
		}
		vas[n.Name] = va
		wg.Go(func() { errs <- cl.Create(ctx, va) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var winner string
	poll(ctx, t, "an attach", func() (bool, error) {
		got := attachedTo(ctx, t, c, pv)
		if len(got) > 1 {
			t.Fatalf("RWO volume attached to %v at once", got)
		}
		if len(got) == 1 {
			winner = got[0]
		}
		return winner != "", nil
	})
	// The refused attaches are retried (on their own every 2 s): none may
	// succeed while the winner holds the volume.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got := attachedTo(ctx, t, c, pv); len(got) != 1 || got[0] != winner {
			t.Fatalf("volume attached to %v, want only %s", got, winner)
		}
	}
	if err := cl.Delete(ctx, vas[winner]); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "an attach elsewhere", func() (bool, error) {
		got := attachedTo(ctx, t, c, pv)
		if len(got) > 1 {
			t.Fatalf("RWO volume attached to %v at once", got)
		}
		return len(got) == 1 && got[0] != winner, nil
	})
}
