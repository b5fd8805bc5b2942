package observe

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func readyPod(uid, node string, ready bool, restarts int32) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "iris-" + uid, UID: types.UID(uid), Labels: map[string]string{"app": "iris"}},
		Spec: corev1.PodSpec{NodeName: node, Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "iris-pvc"}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{RestartCount: restarts}}},
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	return p
}

func readyNode(name string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
}

func newTestRTO() *RTO {
	r := NewRTO("ns", labels.SelectorFromSet(labels.Set{"app": "iris"}), func(d string) bool { return d == "driver.longhorn.io" })
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "iris-pvc"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv"}}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
		CSI: &corev1.CSIPersistentVolumeSource{Driver: "driver.longhorn.io", VolumeHandle: "pv"}}}}
	r.PVC(at(0), pvc, false)
	r.PV(at(0), pv, false)
	r.Node(at(0), readyNode("n1", true), false)
	r.Node(at(0), readyNode("n2", true), false)
	r.VolumeAttachment(at(0), va("va1", "pv", "n1", true), false)
	r.Pod(at(0), readyPod("old", "n1", true, 0), false)
	return r
}

func TestRTOWaitsForAttachmentOnTheNewNode(t *testing.T) {
	r := newTestRTO()
	r.Fault(at(10))
	r.Pod(at(11), readyPod("old", "n1", true, 0), true)
	// Ready on n2 but the volume is still attached to n1 only: not yet.
	r.Pod(at(12), readyPod("new", "n2", true, 0), false)
	if _, _, ok := r.Recovered(); ok {
		t.Fatal("recovered without the volume on the new node")
	}
	r.VolumeAttachment(at(15), va("va2", "pv", "n2", true), false)
	select {
	case <-r.Done():
	default:
		t.Fatal("Done not closed at recovery")
	}
	if got := r.Elapsed(); got != 5*time.Second {
		t.Fatalf("RTO %v, want 5s", got)
	}
}

func TestRTOIgnoresPodReadyBeforeFaultUnlessItRestarts(t *testing.T) {
	r := newTestRTO()
	r.Fault(at(10))
	r.Pod(at(11), readyPod("old", "n1", true, 0), false) // unrelated update
	if _, _, ok := r.Recovered(); ok {
		t.Fatal("the pod ready before the fault does not prove recovery")
	}
	// Crash with an immediate restart, observed only as restartCount 1.
	r.Pod(at(12), readyPod("old", "n1", true, 1), false)
	if got := r.Elapsed(); got != 2*time.Second {
		t.Fatalf("RTO %v, want 2s", got)
	}
}

func TestRTONeedsAReadyNode(t *testing.T) {
	r := newTestRTO()
	r.Fault(at(10))
	r.Node(at(11), readyNode("n1", false), false)
	r.Pod(at(12), readyPod("old", "n1", false, 0), false)
	r.Pod(at(13), readyPod("old", "n1", true, 0), false)
	if _, _, ok := r.Recovered(); ok {
		t.Fatal("a pod on a NotReady node is not a recovery")
	}
	r.Node(at(20), readyNode("n1", true), false)
	if got := r.Elapsed(); got != 10*time.Second {
		t.Fatalf("RTO %v, want 10s", got)
	}
}

func TestRTOBaselineFromCallerWhenTheWatchLags(t *testing.T) {
	r := NewRTO("ns", labels.SelectorFromSet(labels.Set{"app": "iris"}), func(string) bool { return false })
	r.Node(at(0), readyNode("n1", true), false)
	old := readyPod("old", "n1", true, 0)
	old.Spec.Volumes = nil
	// The caller saw the pod Ready; the RTO's watch has not delivered it.
	r.Fault(at(10), old)
	r.Pod(at(11), old, false)
	if _, _, ok := r.Recovered(); ok {
		t.Fatal("the pod Ready before the fault is not a recovery")
	}
}
