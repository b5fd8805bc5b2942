package resize

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/instance"
)

func TestRefuseShrinkComparesQuantities(t *testing.T) {
	for _, tc := range []struct {
		current, size string
		refused       bool
	}{
		{"10Gi", "10240Mi", false},
		{"10Gi", "10G", true}, // 10^10 < 10 * 2^30
		{"1000Gi", "1Ti", false},
		{"1Ti", "1000Gi", true},
		{"10Gi", "11Gi", false},
	} {
		err := refuseShrink("iris", resource.MustParse(tc.current), resource.MustParse(tc.size))
		if (err != nil) != tc.refused {
			t.Errorf("%s -> %s: %v, want refused %v", tc.current, tc.size, err, tc.refused)
		}
	}
}

func TestOutcome(t *testing.T) {
	want := resource.MustParse("20Gi")
	cap20, cap10 := resource.MustParse("20Gi"), resource.MustParse("10Gi")
	cond := func(typ string, s metav1.ConditionStatus, reason string, gen int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: "m", ObservedGeneration: gen}
	}
	for _, tc := range []struct {
		name   string
		status v1alpha1.IrisInstanceStatus
		done   bool
		err    string
	}{
		{"not seen", v1alpha1.IrisInstanceStatus{ObservedGeneration: 2, Capacity: &cap20}, false, ""},
		{"grown", v1alpha1.IrisInstanceStatus{ObservedGeneration: 3, Capacity: &cap20}, true, ""},
		{"grown, still resizing", v1alpha1.IrisInstanceStatus{ObservedGeneration: 3, Capacity: &cap20,
			Conditions: []metav1.Condition{cond(v1alpha1.ConditionResizing, "True", "Expanding", 3)}}, false, ""},
		{"not grown", v1alpha1.IrisInstanceStatus{ObservedGeneration: 3, Capacity: &cap10}, false, ""},
		{"class cannot expand", v1alpha1.IrisInstanceStatus{ObservedGeneration: 3, Capacity: &cap10,
			Conditions: []metav1.Condition{cond(v1alpha1.ConditionVolumeGrowth, "False", "ExpansionNotAllowed", 3)}}, false, "(ExpansionNotAllowed): m"},
		{"refusal of an older generation", v1alpha1.IrisInstanceStatus{ObservedGeneration: 3, Capacity: &cap10,
			Conditions: []metav1.Condition{cond(v1alpha1.ConditionVolumeGrowth, "False", "AutoGrowLimit", 2)}}, false, ""},
		{"the claim update refused", v1alpha1.IrisInstanceStatus{ObservedGeneration: 3, Capacity: &cap10,
			Conditions: []metav1.Condition{cond(v1alpha1.ConditionDegraded, "True", instance.ReasonResizeRefused, 3)}}, false, "(ResizeRefused): m"},
		{"degraded for another reason", v1alpha1.IrisInstanceStatus{ObservedGeneration: 3, Capacity: &cap20,
			Conditions: []metav1.Condition{cond(v1alpha1.ConditionDegraded, "True", instance.ReasonVolumeLost, 3)}}, true, ""},
	} {
		inst := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: "iris", Generation: 3}, Status: tc.status}
		done, err := outcome(inst, want, 3)
		if done != tc.done || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, %v; want %v, %q", tc.name, done, err, tc.done, tc.err)
		}
	}
}

func TestProgressLine(t *testing.T) {
	cap10 := resource.MustParse("10Gi")
	inst := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: v1alpha1.IrisInstanceStatus{
		ObservedGeneration: 2, Capacity: &cap10,
		Volume: &v1alpha1.VolumeStatus{Resize: &v1alpha1.ResizeRecord{Mode: v1alpha1.ResizeOffline, Step: v1alpha1.ResizeDetaching}},
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionResizing, Status: "True", Reason: "Offline",
			Message: "IRIS is stopped while the volume grows"}},
	}}
	got := progressOf(inst, resource.MustParse("20Gi"), 2).Line(0)
	want := "   0.0s  capacity 10Gi      Resizing=True Offline: IRIS is stopped while the volume grows (Offline, step Detaching)"
	if got != want {
		t.Errorf("line\n%q, want\n%q", got, want)
	}
}
