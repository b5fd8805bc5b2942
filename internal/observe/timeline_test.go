package observe

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func TestTimelineFirstOccurrencesAfterFault(t *testing.T) {
	tl := NewTimeline("ns", labels.SelectorFromSet(labels.Set{"app": "iris"}))
	old := readyPod("old", "n1", true, 0)
	tl.Pod(at(0), old, false)
	tl.Event(at(1), &corev1.Event{Reason: "Started", InvolvedObject: corev1.ObjectReference{Namespace: "ns"}})
	tl.Fault(at(10))
	tl.Node(at(60), readyNode("n1", false), false)
	term := old.DeepCopy()
	now := metav1.NewTime(at(360))
	term.DeletionTimestamp = &now
	tl.Pod(at(360), term, false)
	tl.Pod(at(361), readyPod("new", "n2", false, 0), false)
	tl.Event(at(362), &corev1.Event{Reason: "FailedAttachVolume", Message: "Multi-Attach error", InvolvedObject: corev1.ObjectReference{Namespace: "ns"}})
	tl.Event(at(363), &corev1.Event{Reason: "FailedAttachVolume", Message: "later", InvolvedObject: corev1.ObjectReference{Namespace: "ns"}})
	tl.Event(at(364), &corev1.Event{Reason: "Other", InvolvedObject: corev1.ObjectReference{Namespace: "elsewhere"}})
	// Delivered late, but it happened before the fault.
	tl.Event(at(365), &corev1.Event{Reason: "Started", LastTimestamp: metav1.NewTime(at(5)), InvolvedObject: corev1.ObjectReference{Namespace: "ns"}})

	want := []string{MilestoneNodeNotReady, MilestonePodTerminating, MilestoneReplacement, "FailedAttachVolume"}
	got := tl.Milestones()
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, k := range want {
		if got[i].Key != k {
			t.Errorf("milestone %d: got %s want %s", i, got[i].Key, k)
		}
	}
	if d, _ := tl.Since("FailedAttachVolume"); d.Seconds() != 352 {
		t.Errorf("Multi-Attach at +%v", d)
	}
	if m := got[3]; m.Detail != "Multi-Attach error" {
		t.Errorf("first detail kept: %q", m.Detail)
	}
}

// VolumeAttached is the first attachment of the application's volume after
// the fault that was not attached before it, seen on the object itself.
func TestTimelineVolumeAttachedFromTheAttachment(t *testing.T) {
	tl := NewTimeline("ns", labels.SelectorFromSet(labels.Set{"app": "iris"}))
	attachment := func(uid, pv, node string, attached bool, created int) *storagev1.VolumeAttachment {
		a := va("va-"+uid, pv, node, attached)
		a.UID, a.CreationTimestamp = types.UID(uid), metav1.NewTime(at(created))
		return a
	}
	tl.PVC(at(0), &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "iris-pvc"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv"}}, false)
	tl.VolumeAttachment(at(1), attachment("old", "pv", "n1", true, 1), false)
	tl.Fault(at(10))
	tl.VolumeAttachment(at(11), attachment("old", "pv", "n1", true, 1), false)          // updated, still attached
	tl.VolumeAttachment(at(12), attachment("late", "pv", "n1", true, 9), false)         // delivered late
	tl.VolumeAttachment(at(13), attachment("other", "other-pv", "n2", true, 13), false) // another volume
	tl.VolumeAttachment(at(14), attachment("new", "pv", "n2", false, 14), false)
	if _, seen := tl.Since(MilestoneVolumeAttached); seen {
		t.Fatalf("attached too early: %+v", tl.Milestones())
	}
	tl.VolumeAttachment(at(15), attachment("new", "pv", "n2", true, 14), false)
	if d, _ := tl.Since(MilestoneVolumeAttached); d != 5*time.Second {
		t.Fatalf("VolumeAttached at +%v, want +5s: %+v", d, tl.Milestones())
	}
	if m := tl.Milestones()[0]; m.Detail != "n2" {
		t.Errorf("detail %q, want the node", m.Detail)
	}
}

// VolumeReported is the first time a node the application did not run on
// lists its volume in status.volumesAttached (what the kubelet waits for).
func TestTimelineVolumeReportedByANewNode(t *testing.T) {
	tl := NewTimeline("ns", labels.SelectorFromSet(labels.Set{"app": "iris"}))
	tl.PVC(at(0), &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "iris-pvc"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv"}}, false)
	node := func(name string, volumes ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		for _, v := range volumes {
			n.Status.VolumesAttached = append(n.Status.VolumesAttached,
				corev1.AttachedVolume{Name: corev1.UniqueVolumeName("kubernetes.io/csi/driver.longhorn.io^" + v)})
		}
		return n
	}
	old := pod("ns", "iris-old", true, "iris")
	old.Spec.NodeName = "n1"
	tl.Node(at(1), node("n1", "pv"), false)
	tl.Fault(at(10), old)
	tl.Node(at(11), node("n1", "pv"), false)       // the old node, still listing it
	tl.Node(at(12), node("n2", "other-pv"), false) // another volume
	tl.Node(at(13), node("n2", "other-pv"), false) // nothing new
	if _, seen := tl.Since(MilestoneVolumeReported); seen {
		t.Fatalf("reported too early: %+v", tl.Milestones())
	}
	tl.Node(at(16), node("n2", "other-pv", "pv"), false)
	if d, _ := tl.Since(MilestoneVolumeReported); d != 6*time.Second {
		t.Fatalf("VolumeReported at +%v, want +6s: %+v", d, tl.Milestones())
	}
	if m := tl.Milestones()[0]; m.Detail != "n2" {
		t.Errorf("detail %q, want the node", m.Detail)
	}
}
