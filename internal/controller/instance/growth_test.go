package instance

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/volume"
)

var growNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func q(s string) resource.Quantity { return resource.MustParse(s) }

func steady() growthInput {
	return growthInput{spec: q("10Gi"), bound: true, request: q("10Gi"), capacity: q("10Gi"), pvCapacity: q("10Gi"),
		className: "longhorn", expandable: true, pods: 1, podReady: true, attached: true, now: growNow}
}

func TestGrowthSteady(t *testing.T) {
	p := planGrowth(steady())
	if p.rec != nil || p.stopped || p.request.Cmp(q("10Gi")) != 0 || len(p.events) != 0 || p.resizing.status != metav1.ConditionFalse {
		t.Errorf("steady: %+v", p)
	}
}

func TestGrowthOnline(t *testing.T) {
	in := steady()
	in.spec = q("20Gi")
	p := planGrowth(in)
	if p.rec == nil || p.rec.Mode != v1alpha1.ResizeOnline || p.request.Cmp(q("20Gi")) != 0 || p.stopped || p.resizing.status != metav1.ConditionTrue {
		t.Fatalf("online start: %+v", p)
	}
	in.rec, in.request = p.rec, q("20Gi")
	if p := planGrowth(in); p.rec == nil || p.finished {
		t.Errorf("online, capacity not grown yet: %+v", p)
	}
	in.capacity = q("20Gi")
	p = planGrowth(in)
	if p.rec != nil || !p.finished || p.resizing.status != metav1.ConditionFalse {
		t.Errorf("online, grown: %+v", p)
	}
}

func TestGrowthRefusedWithoutExpansion(t *testing.T) {
	in := steady()
	in.spec, in.expandable = q("20Gi"), false
	p := planGrowth(in)
	if p.rec != nil || p.request.Cmp(q("10Gi")) != 0 || p.growth.status != metav1.ConditionFalse ||
		p.growth.reason != ReasonExpansionNotAllowed || !strings.Contains(p.growth.message, "longhorn") || !strings.Contains(p.growth.message, "allowVolumeExpansion") {
		t.Errorf("class without expansion: %+v", p)
	}
}

// TestGrowthOffline walks the offline steps and checks the claim is grown
// only once nothing has the volume attached.
func TestGrowthOffline(t *testing.T) {
	in := steady()
	in.spec, in.offline = q("20Gi"), true
	p := planGrowth(in)
	if p.rec == nil || p.rec.Step != v1alpha1.ResizeStopping || !p.stopped || p.request.Cmp(q("10Gi")) != 0 || len(p.events) != 1 {
		t.Fatalf("offline start: %+v", p)
	}
	steps := []struct {
		change  func(*growthInput)
		step    v1alpha1.ResizeStep
		stopped bool
		request string
	}{
		{func(in *growthInput) {}, v1alpha1.ResizeStopping, true, "10Gi"},
		{func(in *growthInput) { in.pods, in.podReady = 0, false }, v1alpha1.ResizeDetaching, true, "10Gi"},
		{func(in *growthInput) {}, v1alpha1.ResizeDetaching, true, "10Gi"},
		{func(in *growthInput) { in.attached = false }, v1alpha1.ResizeResizing, true, "20Gi"},
		{func(in *growthInput) { in.request = q("20Gi") }, v1alpha1.ResizeResizing, true, "20Gi"},
		{func(in *growthInput) { in.pvCapacity = q("20Gi") }, v1alpha1.ResizeStarting, false, "20Gi"},
		{func(in *growthInput) { in.pods, in.attached = 1, true }, v1alpha1.ResizeStarting, false, "20Gi"},
	}
	for i, s := range steps {
		in.rec = p.rec
		s.change(&in)
		p = planGrowth(in)
		if p.rec == nil || p.rec.Step != s.step || p.stopped != s.stopped || p.request.Cmp(q(s.request)) != 0 {
			t.Fatalf("step %d: %+v, want step %s stopped %t request %s", i, p.rec, s.step, s.stopped, s.request)
		}
	}
	in.rec = p.rec
	in.capacity, in.podReady = q("20Gi"), true
	p = planGrowth(in)
	if p.rec != nil || !p.finished || p.stopped {
		t.Errorf("offline done: %+v", p)
	}
}

func TestAutoGrow(t *testing.T) {
	in := steady()
	in.autoGrow = &v1alpha1.AutoGrowSpec{ThresholdPercent: 80, IncreasePercent: 20, Limit: q("14Gi")}
	gib := int64(1 << 30)
	in.usage = &volume.Stats{UsedBytes: 7 * gib, CapacityBytes: 10 * gib, MeasuredAt: growNow}
	if p := planGrowth(in); p.rec != nil {
		t.Errorf("70%% used: %+v", p.rec)
	}
	in.usage.UsedBytes = 9 * gib
	p := planGrowth(in)
	if p.rec == nil || !p.rec.Automatic || p.request.Cmp(q("12Gi")) != 0 {
		t.Fatalf("90%% used: %+v request %s", p.rec, p.request.String())
	}
	// A measure from before the last growth counts the old size.
	in.lastResized = growNow.Add(time.Second)
	if p := planGrowth(in); p.rec != nil {
		t.Errorf("stale measure grew the volume: %+v", p.rec)
	}
	// Near the limit: grown to the limit, not past it; at it: a warning.
	in.lastResized = time.Time{}
	in.request, in.capacity = q("13Gi"), q("13Gi")
	in.usage.CapacityBytes = 13 * gib
	in.usage.UsedBytes = 12 * gib
	if p := planGrowth(in); p.rec == nil || p.rec.To.Cmp(q("14Gi")) != 0 {
		t.Errorf("near the limit: %+v", p.rec)
	}
	in.request, in.capacity = q("14Gi"), q("14Gi")
	in.usage.CapacityBytes = 14 * gib
	in.usage.UsedBytes = 13 * gib
	p = planGrowth(in)
	if p.rec != nil || p.growth.status != metav1.ConditionFalse || p.growth.reason != ReasonAutoGrowAtLimit {
		t.Errorf("at the limit: %+v", p)
	}
}

// TestGrowthStartsWithoutStepping: readGrowth reads no pods and no
// attachment without a growth in progress, so the pass that starts an
// offline growth must not take their zero values for "IRIS stopped,
// volume detached" and grow the claim under the running IRIS.
func TestGrowthStartsWithoutStepping(t *testing.T) {
	in := steady()
	in.spec, in.offline = q("20Gi"), true
	in.pods, in.podReady, in.attached = 0, false, false
	p := planGrowth(in)
	if p.rec == nil || p.rec.Step != v1alpha1.ResizeStopping || !p.stopped || p.request.Cmp(q("10Gi")) != 0 {
		t.Errorf("offline start with nothing observed: %+v request %s, want Stopping, stopped, the claim untouched", p.rec, p.request.String())
	}
}
