package chaos

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func pod(name, node string, created int, ready bool, restarts int32) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "iris"},
			CreationTimestamp: metav1.NewTime(at(created))},
		Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "iris", RestartCount: restarts}}},
	}
}

func newTestRecorder() *recorder {
	return newRecorder("db", labels.SelectorFromSet(labels.Set{"app": "iris"}), "iris")
}

func marksOf(r *recorder) map[MarkKind]Mark {
	out := map[MarkKind]Mark{}
	for _, m := range r.result(nil) {
		out[m.Kind] = m
	}
	return out
}

// A pod deleted and replaced: detected when it terminates, fenced when it
// is gone, ready when the replacement is; the writer's target follows.
func TestRecorderReplacement(t *testing.T) {
	r := newTestRecorder()
	old := pod("a", "n1", 0, true, 0)
	r.Pod(at(0), old, false)
	if got := r.serving(); got != "a" {
		t.Fatalf("serving %q, want a", got)
	}
	r.fault(at(1000), old)
	terminating := old.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{Time: at(1100)}
	r.Pod(at(1100), terminating, false)
	if got := r.serving(); got != "" {
		t.Errorf("a terminating pod is served: %q", got)
	}
	r.Pod(at(1500), terminating, true)
	r.Pod(at(1600), pod("b", "n2", 1550, false, 0), false)
	r.Pod(at(2600), pod("b", "n2", 1550, true, 0), false)
	m := marksOf(r)
	for kind, want := range map[MarkKind]float64{MarkFault: 0, MarkDetected: 0.1, MarkFenced: 0.5, MarkReady: 1.6} {
		if m[kind].Seconds != want {
			t.Errorf("%s at %v s, want %v s (%+v)", kind, m[kind].Seconds, want, m)
		}
	}
	if got := r.serving(); got != "b" {
		t.Errorf("serving %q, want b", got)
	}
}

// IRIS stopped in place: the container restarts, the same pod goes not
// Ready and Ready again; nothing is fenced. The operator's marks, when
// given, replace what the API showed of the same kind.
func TestRecorderRestartInPlace(t *testing.T) {
	r := newTestRecorder()
	old := pod("a", "n1", 0, true, 0)
	r.Pod(at(0), old, false)
	r.fault(at(1000), old)
	r.Pod(at(1200), pod("a", "n1", 0, true, 0), false) // still Ready: no mark
	r.Pod(at(1300), pod("a", "n1", 0, false, 1), false)
	r.Pod(at(2000), pod("a", "n1", 0, true, 1), false)
	m := marksOf(r)
	if m[MarkDetected].Seconds != 0.3 || m[MarkDetected].Detail != "container iris restarted" {
		t.Errorf("detected %+v", m[MarkDetected])
	}
	if _, fenced := m[MarkFenced]; fenced {
		t.Errorf("a restart in place is fenced: %+v", m[MarkFenced])
	}
	if m[MarkReady].Seconds != 1.0 {
		t.Errorf("ready %+v, want at 1.0 s", m[MarkReady])
	}
	op := []Mark{{Kind: MarkDetected, Seconds: 0.9, Detail: "operator: a LeaseExpired"}}
	for _, got := range r.result(op) {
		if got.Kind == MarkDetected && got.Detail != op[0].Detail {
			t.Errorf("the operator's detection did not replace the API's: %+v", got)
		}
	}
}
