package storage

import (
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func claim() *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "iris-pvc", UID: "u1"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}
}

func class(name string) *storagev1.StorageClass {
	for _, sc := range StorageClasses() {
		if sc.Name == name {
			return sc
		}
	}
	panic(name)
}

func TestBuildPVLonghorn(t *testing.T) {
	pv, err := buildPV("pvc-u1", claim(), class(LonghornClass), "")
	if err != nil {
		t.Fatal(err)
	}
	if pv.Spec.CSI.Driver != LonghornDriver || pv.Spec.CSI.VolumeHandle != "pvc-u1" || pv.Spec.NodeAffinity != nil {
		t.Fatalf("csi %+v affinity %+v", pv.Spec.CSI, pv.Spec.NodeAffinity)
	}
	if pv.Spec.CSI.VolumeAttributes["numberOfReplicas"] != "3" || pv.Spec.ClaimRef.UID != "u1" {
		t.Fatalf("attributes %v claimRef %+v", pv.Spec.CSI.VolumeAttributes, pv.Spec.ClaimRef)
	}
	if q := pv.Spec.Capacity[corev1.ResourceStorage]; q.String() != "10Gi" {
		t.Fatalf("capacity %s", q.String())
	}
}

func TestBuildPVLocalIsPinned(t *testing.T) {
	if _, err := buildPV("pvc-u1", claim(), class(LocalClass), ""); err == nil {
		t.Fatal("a local PV needs the selected node")
	}
	pv, err := buildPV("pvc-u1", claim(), class(LocalClass), "node-2")
	if err != nil {
		t.Fatal(err)
	}
	req := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0]
	if req.Key != "kubernetes.io/hostname" || req.Values[0] != "node-2" {
		t.Fatalf("affinity %+v", req)
	}
}

// The block store attaches an RWO volume to one node at a time, and frees
// it only when detached from the node that holds it.
func TestEnginesRunOnOneNode(t *testing.T) {
	var e engines
	if got := e.attach("pv", "n1", false); got != "" {
		t.Fatalf("first attach refused: held by %q", got)
	}
	if got := e.attach("pv", "n1", false); got != "" {
		t.Fatalf("attaching again to the same node refused: held by %q", got)
	}
	if got := e.attach("pv", "n2", false); got != "n1" {
		t.Fatalf("second node: got %q, want it refused as held by n1", got)
	}
	if got := e.attach("pv2", "n2", false); got != "" {
		t.Fatalf("another volume refused: held by %q", got)
	}
	if got := e.attach("pv", "n2", true); got != "" {
		t.Fatalf("a shared volume attaches anywhere, got held by %q", got)
	}
	e.detach("pv", "n2") // not where it runs: nothing changes
	if got := e.attach("pv", "n3", false); got != "n1" {
		t.Fatalf("after a detach from another node: got %q, want still held by n1", got)
	}
	e.detach("pv", "n1")
	if got := e.attach("pv", "n3", false); got != "" {
		t.Fatalf("after the detach: refused, held by %q", got)
	}
}

func TestSnapshotStatusMirrorsContent(t *testing.T) {
	c := &snapshotv1.VolumeSnapshotContent{ObjectMeta: metav1.ObjectMeta{Name: "snapcontent-1"}}
	st := snapshotStatus(c)
	if *st.BoundVolumeSnapshotContentName != "snapcontent-1" || *st.ReadyToUse || st.CreationTime != nil {
		t.Fatalf("before the cut: %+v", st)
	}
	now := time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC)
	c.Status = &snapshotv1.VolumeSnapshotContentStatus{CreationTime: ptr(now.UnixNano()), ReadyToUse: ptr(false), RestoreSize: ptr(int64(10 << 30))}
	st = snapshotStatus(c)
	if !st.CreationTime.Time.Equal(now) || *st.ReadyToUse || st.RestoreSize.String() != "10Gi" {
		t.Fatalf("after the cut: %+v", st)
	}
}

func TestCutWait(t *testing.T) {
	if w := New(Config{}).cutWait("u1", false); w != 0 {
		t.Fatalf("no cut delay: wait %s", w)
	}
	s := New(Config{SnapshotCutDelay: time.Hour})
	first := s.cutWait("u1", false)
	if first <= 59*time.Minute || first > time.Hour {
		t.Fatalf("first look: wait %s, want the hour", first)
	}
	if again := s.cutWait("u1", false); again > first {
		t.Fatalf("second look: wait %s, more than the first %s: the delay restarted", again, first)
	}
	if other := s.cutWait("u2", false); other <= 59*time.Minute {
		t.Fatalf("another content: wait %s, want its own hour", other)
	}
	s.cutWait("u1", true)
	if len(s.seen) != 1 {
		t.Fatalf("a content done is still remembered: %v", s.seen)
	}
}

func TestNeedsStatusExpansion(t *testing.T) {
	pvc := claim()
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}
	if needsStatusExpansion(pvc, resource.MustParse("10Gi")) {
		t.Fatal("same size")
	}
	if !needsStatusExpansion(pvc, resource.MustParse("20Gi")) {
		t.Fatal("grown PV")
	}
}

func TestCRDsEmbedded(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 3 {
		t.Fatalf("want the 3 VolumeSnapshot CRDs, got %d", len(crds))
	}
}
