package kubelet

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestUnattached(t *testing.T) {
	a := podVolume{Name: "a", UniqueName: UniqueVolumeName("driver.longhorn.io", "pvc-a"), NeedsAttach: true}
	b := podVolume{Name: "b", UniqueName: UniqueVolumeName("driver.longhorn.io", "pvc-b"), NeedsAttach: true}
	local := podVolume{Name: "local", NeedsAttach: false}
	node := &corev1.Node{Status: corev1.NodeStatus{VolumesAttached: []corev1.AttachedVolume{{Name: a.UniqueName}}}}
	if got := unattached([]podVolume{a, b, local}, node); !reflect.DeepEqual(got, []string{"b"}) {
		t.Fatalf("got %v", got)
	}
	if a.UniqueName != "kubernetes.io/csi/driver.longhorn.io^pvc-a" {
		t.Fatalf("unique name %s", a.UniqueName)
	}
}
