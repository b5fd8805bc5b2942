package doctor

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

func TestClassify(t *testing.T) {
	lhOne := &Longhorn{Settings: map[string]string{"default-replica-count": `{"v1":"1","v2":"1"}`}}
	for _, c := range []struct {
		name string
		sc   storagev1.StorageClass
		lh   *Longhorn
		want Replication
		in   string
	}{
		{"longhorn 3", longhornClass(), nil, Replicated, "numberOfReplicas 3"},
		{"longhorn 1", class("lh1", LonghornDriver, map[string]string{"numberOfReplicas": "1"}), nil, SingleCopy, "numberOfReplicas 1"},
		{"longhorn default count", class("lh", LonghornDriver, nil), nil, Replicated, "3 unless changed"},
		{"longhorn default count set to 1", class("lh", LonghornDriver, nil), lhOne, SingleCopy, "the setting default-replica-count, 1"},
		{"longhorn strict-local", class("lh", LonghornDriver, map[string]string{"numberOfReplicas": "1", "dataLocality": "strict-local"}), nil, NodeLocal, "strict-local"},
		{"portworx 3", class("px", "pxd.portworx.com", map[string]string{"repl": "3"}), nil, Replicated, "repl 3"},
		{"portworx unset", class("px", "kubernetes.io/portworx-volume", nil), nil, SingleCopy, "repl is not set"},
		{"mayastor 1", class("ms", "io.openebs.csi-mayastor", map[string]string{"repl": "1", "protocol": "nvmf"}), nil, SingleCopy, "repl 1"},
		{"mayastor junk", class("ms", "io.openebs.csi-mayastor", map[string]string{"repl": "three"}), nil, Unknown, "not a number"},
		{"rook rbd", class("ceph", "rook-ceph.rbd.csi.ceph.com", map[string]string{"pool": "replicapool"}), nil, Replicated, "pool's replicas"},
		{"gke regional", class("rpd", "pd.csi.storage.gke.io", map[string]string{"type": "pd-balanced", "replication-type": "regional-pd"}), nil, Replicated, "two zones"},
		{"gke zonal", class("pd", "pd.csi.storage.gke.io", map[string]string{"type": "pd-balanced"}), nil, Zonal, "zonal"},
		{"azure zrs", class("zrs", "disk.csi.azure.com", map[string]string{"skuname": "Premium_ZRS"}), nil, Replicated, "zone-redundant"},
		{"azure lrs", class("lrs", "disk.csi.azure.com", nil), nil, Zonal, "StandardSSD_LRS"},
		{"ebs", class("gp3", "ebs.csi.aws.com", map[string]string{"type": "gp3"}), nil, Zonal, "availability zone"},
		{"local-path", class("local-path", "rancher.io/local-path", nil, wffc), nil, NodeLocal, "one node"},
		{"the sim's local-disk", localDisk(), nil, NodeLocal, "one node"},
		{"unknown", class("nfs", "nfs.csi.k8s.io", nil), nil, Unknown, "nfs.csi.k8s.io"},
		{"unknown, WaitForFirstConsumer", class("x", "x.example.com", nil, wffc), nil, Unknown, "node-local trap"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Classify(&c.sc, nil, c.lh)
			if v.Replication != c.want || !strings.Contains(v.Detail, c.in) {
				t.Errorf("got %+v, want %s with %q", v, c.want, c.in)
			}
		})
	}
}

// TestClassifyFromPVs: a PV pinned to one node by hostname makes its class
// node-local whatever the driver; other classes' PVs do not count.
func TestClassifyFromPVs(t *testing.T) {
	sc := class("fast", "x.example.com", nil, wffc)
	pvs := []corev1.PersistentVolume{pinnedPV("pvc-other", "elsewhere", "node-a"), pinnedPV("pvc-1", "fast", "node-b")}
	v := Classify(&sc, pvs, nil)
	if v.Replication != NodeLocal || !strings.Contains(v.Detail, "pvc-1 is pinned to node node-b") {
		t.Errorf("got %+v", v)
	}
	lh := longhornClass()
	if v := Classify(&lh, pvs, nil); v.Replication != Replicated {
		t.Errorf("longhorn judged by another class's PV: %+v", v)
	}
	zonal := pinnedPV("pvc-2", "longhorn", "node-b")
	zonal.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Key = LabelZone
	if v := Classify(&lh, []corev1.PersistentVolume{zonal}, nil); v.Replication != Replicated {
		t.Errorf("zone affinity taken as node-local: %+v", v)
	}
}

func TestReplicationRule(t *testing.T) {
	t.Run("default class and the classes instances use", func(t *testing.T) {
		s := healthy()
		s.Instances = append(s.Instances, instance("db", "scratch", ptr.To("local-disk"), v1alpha1.FailoverLease),
			instance("db", "plain", nil, v1alpha1.FailoverLease))
		fs := ReplicationRule(s)
		lh := find(t, fs, "storage.replication", "storageclass/longhorn")
		wantSeverity(t, lh, OK)
		if !strings.Contains(lh.Summary, "default class, used by db/iris, used by db/plain") {
			t.Errorf("summary %q", lh.Summary)
		}
		local := find(t, fs, "storage.replication", "storageclass/local-disk")
		wantSeverity(t, local, Error)
		if !strings.Contains(local.Breaks, "volume node affinity conflict") {
			t.Errorf("breaks %q", local.Breaks)
		}
	})
	t.Run("the instance's class only", func(t *testing.T) {
		s := healthy()
		inst := instance("db", "iris", ptr.To("local-disk"), v1alpha1.FailoverLease)
		s.Target = &inst
		s.PersistentVolumes = []corev1.PersistentVolume{pinnedPV("pvc-9", "local-disk", "node-a")}
		fs := ReplicationRule(s)
		if len(fs) != 1 {
			t.Fatalf("want the instance's class alone: %+v", fs)
		}
		f := find(t, fs, "storage.replication", "storageclass/local-disk")
		wantSeverity(t, f, Error)
		if !strings.Contains(f.Summary, "pvc-9 is pinned to node node-a") {
			t.Errorf("summary %q", f.Summary)
		}
	})
	t.Run("the claim's class wins over the default", func(t *testing.T) {
		s := healthy()
		inst := instance("db", "iris", nil, v1alpha1.FailoverLease)
		s.Target = &inst
		s.TargetPVC = &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("local-disk")}}
		wantSeverity(t, find(t, ReplicationRule(s), "storage.replication", "storageclass/local-disk"), Error)
	})
	t.Run("missing class", func(t *testing.T) {
		s := healthy()
		s.Instances = []v1alpha1.IrisInstance{instance("db", "iris", ptr.To("gone"), v1alpha1.FailoverLease)}
		wantSeverity(t, find(t, ReplicationRule(s), "storage.replication", "storageclass/gone"), Error)
	})
	t.Run("no default class", func(t *testing.T) {
		s := healthy()
		s.StorageClasses = []storagev1.StorageClass{longhornClass()}
		s.Instances = nil
		wantSeverity(t, find(t, ReplicationRule(s), "storage.default", ""), Warning)
		s.Instances = []v1alpha1.IrisInstance{instance("db", "iris", nil, v1alpha1.FailoverLease)}
		wantSeverity(t, find(t, ReplicationRule(s), "storage.default", ""), Error)
	})
	t.Run("two defaults", func(t *testing.T) {
		s := healthy()
		s.StorageClasses = append(s.StorageClasses, class("gp3", "ebs.csi.aws.com", nil, isDefault))
		wantSeverity(t, find(t, ReplicationRule(s), "storage.default", ""), Warning)
	})
	t.Run("zonal", func(t *testing.T) {
		s := healthy()
		s.StorageClasses = []storagev1.StorageClass{class("gp3", "ebs.csi.aws.com", nil, isDefault)}
		s.Instances = nil
		wantSeverity(t, find(t, ReplicationRule(s), "storage.replication", "storageclass/gp3"), Warning)
		s.Nodes = []corev1.Node{node("a", "z"), node("b", "z"), node("c", "z")}
		wantSeverity(t, find(t, ReplicationRule(s), "storage.replication", "storageclass/gp3"), OK)
	})
	t.Run("unknown driver", func(t *testing.T) {
		s := healthy()
		s.StorageClasses = []storagev1.StorageClass{class("nfs", "nfs.csi.k8s.io", nil, isDefault)}
		s.Instances = nil
		f := find(t, ReplicationRule(s), "storage.replication", "storageclass/nfs")
		wantSeverity(t, f, Warning)
		if !strings.Contains(f.Fix, "check that nfs.csi.k8s.io replicates across nodes") {
			t.Errorf("fix %q", f.Fix)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		s := healthy()
		s.Unreadable["storageclasses"] = "forbidden"
		wantSeverity(t, find(t, ReplicationRule(s), "storage.replication", ""), Warning)
		if fs := ExpansionRule(s); fs != nil {
			t.Errorf("expansion findings without classes: %+v", fs)
		}
	})
}

func TestExpansionRule(t *testing.T) {
	offline := longhornClass(isDefault, func(sc *storagev1.StorageClass) {
		sc.Name = "longhorn-offline-expansion"
		sc.Annotations[v1alpha1.AnnotationVolumeExpansion] = "offline"
	})
	fixed := longhornClass(func(sc *storagev1.StorageClass) { sc.Name = "longhorn-fixed-size"; sc.AllowVolumeExpansion = nil })
	odd := longhornClass(func(sc *storagev1.StorageClass) {
		sc.Name = "odd"
		sc.Annotations[v1alpha1.AnnotationVolumeExpansion] = "sometimes"
	})
	s := healthy()
	s.StorageClasses = []storagev1.StorageClass{longhornClass(), offline, fixed, odd}
	s.Instances = []v1alpha1.IrisInstance{
		instance("db", "a", ptr.To("longhorn"), v1alpha1.FailoverLease),
		instance("db", "b", ptr.To("longhorn-fixed-size"), v1alpha1.FailoverLease),
		instance("db", "c", ptr.To("odd"), v1alpha1.FailoverLease),
	}
	fs := ExpansionRule(s)
	wantSeverity(t, find(t, fs, "storage.expansion", "storageclass/longhorn"), OK)
	off := find(t, fs, "storage.expansion", "storageclass/longhorn-offline-expansion")
	wantSeverity(t, off, OK)
	if !strings.Contains(off.Summary, "planned outage") {
		t.Errorf("summary %q", off.Summary)
	}
	f := find(t, fs, "storage.expansion", "storageclass/longhorn-fixed-size")
	wantSeverity(t, f, Warning)
	if !strings.Contains(f.Breaks, "storage growth is impossible") {
		t.Errorf("breaks %q", f.Breaks)
	}
	wantSeverity(t, find(t, fs, "storage.expansion", "storageclass/odd"), Warning)
}
