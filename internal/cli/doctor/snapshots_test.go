package doctor

import (
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSnapshotAPIRule(t *testing.T) {
	wantSeverity(t, find(t, SnapshotAPIRule(healthy()), "snapshots.api", ""), OK)
	s := healthy()
	delete(s.APIs, gvSnapshots)
	f := find(t, SnapshotAPIRule(s), "snapshots.api", "")
	wantSeverity(t, f, Warning)
	if !strings.Contains(f.Breaks, "IrisBackups fail") {
		t.Errorf("breaks %q", f.Breaks)
	}
	// Without the API, the controller and class rules stay quiet.
	if fs := append(SnapshotControllerRule(s), SnapshotClassRule(s)...); len(fs) != 0 {
		t.Errorf("findings without the API: %+v", fs)
	}
}

func TestSnapshotControllerRule(t *testing.T) {
	check := func(t *testing.T, s *Snapshot, want Severity, in string) {
		t.Helper()
		f := find(t, SnapshotControllerRule(s), "snapshots.controller", "")
		wantSeverity(t, f, want)
		if !strings.Contains(f.Summary, in) {
			t.Errorf("summary %q, want %q in it", f.Summary, in)
		}
	}
	t.Run("its Deployment", func(t *testing.T) { check(t, healthy(), OK, "Deployment kube-system/snapshot-controller, 2 ready") })
	t.Run("its leader Lease", func(t *testing.T) {
		s := healthy()
		s.Deployments = nil
		s.Leases = append(s.Leases, lease("kube-system", leaseSnapshotController, "snapshot-controller-5d9", now.Add(-3*time.Second)))
		check(t, s, OK, "holds Lease kube-system/snapshot-controller-leader, renewed 3s ago")
	})
	t.Run("a stale Lease is no evidence", func(t *testing.T) {
		s := healthy()
		s.Deployments = nil
		s.Leases = append(s.Leases, lease("kube-system", leaseSnapshotController, "gone", now.Add(-time.Hour)))
		check(t, s, Warning, "no snapshot controller found")
	})
	t.Run("not ready", func(t *testing.T) {
		s := healthy()
		s.Deployments[1].Status.ReadyReplicas = 0
		check(t, s, Warning, "not ready: Deployment kube-system/snapshot-controller")
	})
	t.Run("a bound snapshot (managed control plane)", func(t *testing.T) {
		s := healthy()
		s.Deployments = nil
		s.VolumeSnapshots = []snapshotv1.VolumeSnapshot{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "pending"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "iris-1"}, Status: &snapshotv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: ptr.To("snapcontent-1")}},
		}
		check(t, s, OK, "VolumeSnapshot db/iris-1 is bound to snapcontent-1")
	})
	t.Run("nothing", func(t *testing.T) {
		s := healthy()
		s.Deployments = nil
		check(t, s, Warning, "no snapshot controller found")
	})
}

func TestSnapshotClassRule(t *testing.T) {
	lhClass := func(params map[string]string, def bool) snapshotv1.VolumeSnapshotClass {
		return snapshotClass("longhorn", LonghornDriver, params, def)
	}
	t.Run("default of type snap", func(t *testing.T) {
		fs := SnapshotClassRule(healthy())
		wantSeverity(t, find(t, fs, "snapshots.class", "driver/"+LonghornDriver), OK)
		wantSeverity(t, find(t, fs, "snapshots.longhorn-type", "volumesnapshotclass/longhorn"), OK)
	})
	t.Run("no class", func(t *testing.T) {
		s := healthy()
		s.VolumeSnapshotClasses = nil
		f := find(t, SnapshotClassRule(s), "snapshots.class", "driver/"+LonghornDriver)
		wantSeverity(t, f, Warning)
		if !strings.Contains(f.Fix, "type: snap") {
			t.Errorf("fix %q", f.Fix)
		}
	})
	t.Run("no default", func(t *testing.T) {
		s := healthy()
		s.VolumeSnapshotClasses = []snapshotv1.VolumeSnapshotClass{lhClass(map[string]string{"type": "snap"}, false)}
		wantSeverity(t, find(t, SnapshotClassRule(s), "snapshots.class", "driver/"+LonghornDriver), Warning)
	})
	t.Run("two defaults", func(t *testing.T) {
		s := healthy()
		other := snapshotClass("longhorn-bak", LonghornDriver, map[string]string{"type": "bak"}, true)
		s.VolumeSnapshotClasses = append(s.VolumeSnapshotClasses, other)
		fs := SnapshotClassRule(s)
		wantSeverity(t, find(t, fs, "snapshots.class", "driver/"+LonghornDriver), Warning)
		// Both defaults' types are judged.
		wantSeverity(t, find(t, fs, "snapshots.longhorn-type", "volumesnapshotclass/longhorn-bak"), Warning)
	})
	t.Run("no type means bak", func(t *testing.T) {
		s := healthy()
		s.VolumeSnapshotClasses = []snapshotv1.VolumeSnapshotClass{lhClass(nil, true)}
		f := find(t, SnapshotClassRule(s), "snapshots.longhorn-type", "volumesnapshotclass/longhorn")
		wantSeverity(t, f, Warning)
		if !strings.Contains(f.Summary, "which Longhorn takes as bak") {
			t.Errorf("summary %q", f.Summary)
		}
	})
	t.Run("bak without a backup target", func(t *testing.T) {
		s := healthy()
		s.VolumeSnapshotClasses = []snapshotv1.VolumeSnapshotClass{lhClass(map[string]string{"type": "bak"}, true)}
		s.Longhorn.BackupTargetURL = ptr.To("")
		f := find(t, SnapshotClassRule(s), "snapshots.longhorn-type", "volumesnapshotclass/longhorn")
		wantSeverity(t, f, Warning)
		if !strings.Contains(f.Breaks, "no backup target") {
			t.Errorf("breaks %q", f.Breaks)
		}
	})
	t.Run("another driver: no type check", func(t *testing.T) {
		s := healthy()
		s.StorageClasses = []storagev1.StorageClass{class("rbd", "rook-ceph.rbd.csi.ceph.com", nil, isDefault)}
		s.Instances = nil
		s.VolumeSnapshotClasses = []snapshotv1.VolumeSnapshotClass{snapshotClass("rbd", "rook-ceph.rbd.csi.ceph.com", nil, true)}
		fs := SnapshotClassRule(s)
		if len(fs) != 1 {
			t.Fatalf("findings %+v", fs)
		}
		wantSeverity(t, fs[0], OK)
	})
}
