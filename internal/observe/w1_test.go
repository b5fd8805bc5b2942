package observe

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func va(name, pv, node string, attached bool) *storagev1.VolumeAttachment {
	return &storagev1.VolumeAttachment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       storagev1.VolumeAttachmentSpec{NodeName: node, Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &pv}},
		Status:     storagev1.VolumeAttachmentStatus{Attached: attached},
	}
}

func pod(ns, name string, running bool, lbl string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": lbl}}}
	p.Status.Phase = corev1.PodPending
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	if running {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	}
	return p
}

func TestW1CleanHandOverHasNoViolation(t *testing.T) {
	w := NewW1(labels.SelectorFromSet(labels.Set{"app": "iris"}))
	// Old pod runs on n1; it is deleted, detached, then the new one attaches
	// on n2 and runs.
	w.VolumeAttachment(at(0), va("va1", "pv", "n1", true), false)
	w.Pod(at(0), pod("ns", "old", true, "iris"), false)
	w.Pod(at(1), pod("ns", "new", false, "iris"), false)
	w.VolumeAttachment(at(2), va("va2", "pv", "n2", false), false) // Multi-Attach: not attached
	w.Pod(at(3), pod("ns", "old", false, "iris"), false)
	w.Pod(at(3), pod("ns", "old", false, "iris"), true)
	w.VolumeAttachment(at(4), va("va1", "pv", "n1", true), true)
	w.VolumeAttachment(at(5), va("va2", "pv", "n2", true), false)
	w.Pod(at(6), pod("ns", "new", true, "iris"), false)
	if v := w.Violations(); len(v) != 0 {
		t.Fatalf("want no violation, got %+v", v)
	}
}

func TestW1VolumeOnTwoNodes(t *testing.T) {
	w := NewW1(labels.Everything())
	w.VolumeAttachment(at(0), va("va1", "pv", "n1", true), false)
	w.VolumeAttachment(at(1), va("va2", "pv", "n2", true), false)
	w.VolumeAttachment(at(1), va("other", "pv2", "n3", true), false)
	w.VolumeAttachment(at(4), va("va1", "pv", "n1", true), true)
	v := w.Violations()
	if len(v) != 1 || v[0].Kind != VolumeMultiAttach || v[0].Subject != "pv" || !v[0].Start.Equal(at(1)) || !v[0].End.Equal(at(4)) {
		t.Fatalf("got %+v", v)
	}
	if len(v[0].Holders) != 2 || v[0].Holders[0] != "n1" || v[0].Holders[1] != "n2" {
		t.Fatalf("holders %v", v[0].Holders)
	}
}

func TestW1SameNodeTwiceIsOneAttachment(t *testing.T) {
	w := NewW1(labels.Everything())
	w.VolumeAttachment(at(0), va("va1", "pv", "n1", true), false)
	w.VolumeAttachment(at(1), va("va1b", "pv", "n1", true), false)
	if v := w.Violations(); len(v) != 0 {
		t.Fatalf("got %+v", v)
	}
}

func TestW1TwoPodsRunningOpenAndPerNamespace(t *testing.T) {
	w := NewW1(labels.SelectorFromSet(labels.Set{"app": "iris"}))
	w.Pod(at(0), pod("a", "p1", true, "iris"), false)
	w.Pod(at(0), pod("b", "p1", true, "iris"), false) // another app instance
	w.Pod(at(0), pod("a", "web", true, "web"), false) // not selected
	if v := w.Violations(); len(v) != 0 {
		t.Fatalf("different namespaces or apps must not count: %+v", v)
	}
	w.Pod(at(2), pod("a", "p2", true, "iris"), false)
	v := w.Violations()
	if len(v) != 1 || v[0].Kind != AppMultiRunning || !v[0].End.IsZero() || !v[0].Start.Equal(at(2)) {
		t.Fatalf("got %+v", v)
	}
	// A terminating pod whose containers still run keeps counting.
	p1 := pod("a", "p1", true, "iris")
	now := metav1.NewTime(at(3))
	p1.DeletionTimestamp = &now
	w.Pod(at(3), p1, false)
	if v := w.Violations(); !v[0].End.IsZero() {
		t.Fatal("a terminating but running pod still writes")
	}
	w.Pod(at(5), p1, true)
	if v := w.Violations(); !v[0].End.Equal(at(5)) {
		t.Fatalf("got %+v", v)
	}
}

// TestW1IrishaAgentWaitingForTheLeaseIsNoWriter: a replacement whose agent
// runs but is not Ready (it waits for the Lease) next to the old Ready pod
// is no violation under RunningReady, but two Ready pods are, and so is a
// stale Ready pod left on a lost node next to a Ready replacement.
func TestW1IrishaAgentWaitingForTheLeaseIsNoWriter(t *testing.T) {
	ready := func(p *corev1.Pod, ok bool) *corev1.Pod {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: s}}
		return p
	}
	sel := labels.SelectorFromSet(labels.Set{"app": "iris"})
	w := NewW1Writers(sel, RunningReady)
	plain := NewW1(sel)
	for _, w := range []*W1{w, plain} {
		w.Pod(at(0), ready(pod("a", "old", true, "iris"), true), false)
		w.Pod(at(1), ready(pod("a", "new", true, "iris"), false), false)
	}
	if v := w.Violations(); len(v) != 0 {
		t.Fatalf("an agent waiting for the Lease counted as a writer: %+v", v)
	}
	if v := plain.Violations(); len(v) != 1 {
		t.Fatalf("NewW1 must count every running container: %+v", v)
	}
	w.Pod(at(2), ready(pod("a", "new", true, "iris"), true), false)
	v := w.Violations()
	if len(v) != 1 || v[0].Kind != AppMultiRunning || !v[0].Start.Equal(at(2)) {
		t.Fatalf("two Ready pods must be a violation: %+v", v)
	}
	if RunningReady(ready(pod("a", "x", false, "iris"), true)) {
		t.Error("a pod whose containers do not run is no writer")
	}
}
