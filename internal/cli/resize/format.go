package resize

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/controller/instance"
)

// refuseShrink refuses a size below the current one: Kubernetes cannot
// shrink a claim, and the CRD's rule would refuse it anyway, in words
// about CEL rather than about the volume.
func refuseShrink(name string, current, size resource.Quantity) error {
	if size.Cmp(current) >= 0 {
		return nil
	}
	return fmt.Errorf("IrisInstance %s has storage.size %s: a volume grows but never shrinks, so %s is refused (Kubernetes cannot shrink a claim); give a size of at least %s",
		name, current.String(), size.String(), current.String())
}

// report is what resize says once the spec is patched (changed) or found
// at the size already.
func report(inst *v1alpha1.IrisInstance, from, to resource.Quantity, changed bool) []string {
	var lines []string
	if changed {
		lines = append(lines, fmt.Sprintf("irisinstance.irisha.dev/%s resized: storage.size %s -> %s", inst.Name, from.String(), to.String()))
	} else {
		lines = append(lines, fmt.Sprintf("irisinstance.irisha.dev/%s unchanged: storage.size is %s already", inst.Name, to.String()))
	}
	if ag := inst.Spec.Storage.AutoGrow; ag != nil && to.Cmp(ag.Limit) > 0 {
		lines = append(lines, fmt.Sprintf("Note: storage.autoGrow.limit is %s, below the new size: autoGrow will not grow the volume any further", ag.Limit.String()))
	}
	return lines
}

// progress is what a wait prints of the growth.
type progress struct {
	capacity, size string
	detail         string
}

func progressOf(inst *v1alpha1.IrisInstance, size resource.Quantity, gen int64) progress {
	st := &inst.Status
	p := progress{capacity: "unknown", size: size.String()}
	if st.Capacity != nil {
		p.capacity = st.Capacity.String()
	}
	resizing := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionResizing)
	switch {
	case st.ObservedGeneration < gen:
		p.detail = "waiting for the irisha operator to see the new size"
	case resizing != nil && resizing.Status == metav1.ConditionTrue:
		p.detail = describe(resizing)
		if r := st.Volume; r != nil && r.Resize != nil {
			p.detail += fmt.Sprintf(" (%s, step %s)", r.Resize.Mode, r.Resize.Step)
		}
	case grown(inst, size):
		p.detail = "the claim reports the new size"
	default:
		p.detail = "waiting for the claim to report the new size"
	}
	return p
}

func describe(c *metav1.Condition) string {
	s := c.Type + "=" + string(c.Status) + " " + c.Reason
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

func (p progress) Line(elapsed time.Duration) string {
	return strings.TrimRight(fmt.Sprintf("%7s  capacity %-8s  %s", kube.Elapsed(elapsed), p.capacity, p.detail), " ")
}

// summary is the progress in a sentence, for a wait that ends early.
func (p progress) summary() string {
	return fmt.Sprintf("the claim reports %s of %s; %s", p.capacity, p.size, p.detail)
}

func grown(inst *v1alpha1.IrisInstance, size resource.Quantity) bool {
	return inst.Status.Capacity != nil && inst.Status.Capacity.Cmp(size) >= 0
}

// outcome says whether the growth of generation gen is done (the claim
// reports the size and the Resizing condition is gone or False), or
// refused: the operator reports VolumeGrowth=False (a class that cannot
// expand), or Degraded with reason ResizeRefused, the API server's answer
// to its update of the claim.
func outcome(inst *v1alpha1.IrisInstance, size resource.Quantity, gen int64) (bool, error) {
	st := &inst.Status
	if st.ObservedGeneration < gen {
		return false, nil
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVolumeGrowth); c != nil && c.Status == metav1.ConditionFalse && c.ObservedGeneration >= gen {
		return false, fmt.Errorf("the volume of IrisInstance %s cannot grow to %s (%s): %s", inst.Name, size.String(), c.Reason, c.Message)
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue &&
		c.Reason == instance.ReasonResizeRefused && c.ObservedGeneration >= gen {
		return false, fmt.Errorf("the volume of IrisInstance %s cannot grow to %s (%s): %s", inst.Name, size.String(), c.Reason, c.Message)
	}
	resizing := meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionResizing)
	return grown(inst, size) && !resizing, nil
}
