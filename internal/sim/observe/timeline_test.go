package observe

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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
