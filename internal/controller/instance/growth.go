package instance

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/volume"
)

// growthRecheck is how often a growth in progress is looked at.
const growthRecheck = 2 * time.Second

// Reasons of the Resizing and VolumeGrowth conditions.
const (
	ReasonNotResizing         = "NotResizing"
	ReasonGrowthPossible      = "AsExpected"
	ReasonExpansionNotAllowed = "ExpansionNotAllowed"
	ReasonAutoGrowAtLimit     = "AutoGrowAtLimit"
	// ReasonLargerThanSpec: the claim was grown outside irisha (kubectl
	// edit, the reference article's way); irisha keeps the size.
	ReasonLargerThanSpec = "LargerThanSpec"
)

// growthInput is what the growth plan is decided on.
type growthInput struct {
	spec     resource.Quantity
	autoGrow *v1alpha1.AutoGrowSpec
	// usage is the agent's last measure (nil: none).
	usage *volume.Stats
	// lastResized is when the previous growth finished.
	lastResized time.Time

	bound bool
	// request and capacity of the claim, the PV's capacity.
	request, capacity, pvCapacity resource.Quantity
	// fsResizePending: the claim waits for the filesystem to grow at the
	// next mount (the controller side is done).
	fsResizePending bool

	className  string
	expandable bool
	offline    bool

	// pods of the instance that exist (terminating ones too), whether one
	// is Ready, and whether the volume is attached to a node.
	pods     int
	podReady bool
	attached bool

	rec *v1alpha1.ResizeRecord
	now time.Time
}

// growthPlan is what the reconciler does about the volume's size.
type growthPlan struct {
	// rec is the growth in progress after this pass (nil: none).
	rec *v1alpha1.ResizeRecord
	// finished: a growth ended in this pass.
	finished bool
	// request is the claim's request to apply.
	request resource.Quantity
	// stopped: the Deployment runs no pod (an offline growth).
	stopped bool

	resizing, growth condition
	events           []growthEvent
}

type condition struct {
	status          metav1.ConditionStatus
	reason, message string
}

type growthEvent struct{ typ, reason, message string }

// planGrowth decides how the volume grows: to spec.storage.size, or past it
// when autoGrow sees it filling. Online, the claim's request is raised and
// the driver grows the volume under the running IRIS. Offline (a class whose
// driver grows only detached volumes), IRIS is stopped, the detach awaited,
// the claim grown and IRIS started again, each step recorded so that a
// restarted operator finishes it. It never shrinks a claim.
func planGrowth(in growthInput) growthPlan {
	p := growthPlan{request: in.request, rec: in.rec.DeepCopy()}
	target, automatic, atLimit := growthTarget(in)
	p.growth = condition{metav1.ConditionTrue, ReasonGrowthPossible, ""}
	if atLimit {
		p.growth = condition{metav1.ConditionFalse, ReasonAutoGrowAtLimit, fmt.Sprintf(
			"The volume is %.0f%% full and at its autoGrow limit %s: raise spec.storage.autoGrow.limit, or free space",
			100*in.usage.Ratio(), in.autoGrow.Limit.String())}
	}

	if in.autoGrow == nil && in.rec == nil && in.request.Cmp(in.spec) > 0 {
		// Without autoGrow only a hand can have grown it. A claim cannot
		// shrink, so the size is adopted rather than fought over.
		p.growth = condition{metav1.ConditionTrue, ReasonLargerThanSpec, fmt.Sprintf(
			"PersistentVolumeClaim was grown outside irisha to %s, above spec.storage.size %s; irisha keeps it (a claim cannot shrink): set spec.storage.size to %s to record it",
			in.request.String(), in.spec.String(), in.request.String())}
	}
	if p.rec == nil && in.bound && target.Cmp(in.request) > 0 {
		switch {
		case !in.expandable:
			p.growth = condition{metav1.ConditionFalse, ReasonExpansionNotAllowed, fmt.Sprintf(
				"StorageClass %s does not allow volume expansion, so the volume stays at %s (asked: %s): if its driver can expand, set allowVolumeExpansion: true on the class "+
					"(kubectl patch storageclass %s -p '{\"allowVolumeExpansion\": true}')", in.className, in.request.String(), target.String(), in.className)}
		case in.offline:
			p.rec = &v1alpha1.ResizeRecord{Mode: v1alpha1.ResizeOffline, Step: v1alpha1.ResizeStopping, From: in.request.DeepCopy(), To: target, Automatic: automatic, StartedAt: metav1.NewTime(in.now)}
			p.stopped = true
			p.events = append(p.events, growthEvent{corev1.EventTypeWarning, "PlannedOutage", fmt.Sprintf(
				"Stopping IRIS to grow the volume from %s to %s: StorageClass %s grows volumes only while they are detached", in.request.String(), target.String(), in.className)})
		default:
			p.rec = &v1alpha1.ResizeRecord{Mode: v1alpha1.ResizeOnline, Step: v1alpha1.ResizeExpanding, From: in.request.DeepCopy(), To: target, Automatic: automatic, StartedAt: metav1.NewTime(in.now)}
			p.request = target
			why := "spec.storage.size"
			if automatic {
				why = fmt.Sprintf("autoGrow: %.0f%% in use", 100*in.usage.Ratio())
			}
			p.events = append(p.events, growthEvent{corev1.EventTypeNormal, "Expanding", fmt.Sprintf("Growing the volume from %s to %s online (%s)", in.request.String(), target.String(), why)})
		}
	}
	if p.rec != nil && in.rec != nil {
		// A growth moves on only from what was observed with its record
		// in place: the pass that starts it observed the pods and the
		// attachment of no growth (readGrowth skips them then).
		p.step(in)
	}
	p.resizing = condition{metav1.ConditionFalse, ReasonNotResizing, ""}
	if r := p.rec; r != nil {
		msg := fmt.Sprintf("Growing the volume from %s to %s online", r.From.String(), r.To.String())
		if r.Mode == v1alpha1.ResizeOffline {
			msg = fmt.Sprintf("Growing the volume from %s to %s offline: IRIS stopped since %s (step %s)", r.From.String(), r.To.String(), r.StartedAt.UTC().Format(time.RFC3339), r.Step)
		}
		p.resizing = condition{metav1.ConditionTrue, string(r.Step), msg}
	}
	return p
}

// step moves a growth in progress on by what was observed.
func (p *growthPlan) step(in growthInput) {
	r := p.rec
	grown := !in.capacity.IsZero() && in.capacity.Cmp(r.To) >= 0
	if r.Mode == v1alpha1.ResizeOnline {
		p.request = maxQuantity(in.request, r.To)
		if grown {
			p.finish(in, fmt.Sprintf("Grew the volume from %s to %s online in %s", r.From.String(), r.To.String(), in.now.Sub(r.StartedAt.Time).Round(time.Second)))
		}
		return
	}
	p.stopped = true
	switch r.Step {
	case v1alpha1.ResizeStopping:
		if in.pods == 0 {
			r.Step = v1alpha1.ResizeDetaching
		}
	case v1alpha1.ResizeDetaching:
		if !in.attached {
			r.Step = v1alpha1.ResizeResizing
			p.request = maxQuantity(in.request, r.To)
		}
	case v1alpha1.ResizeResizing:
		p.request = maxQuantity(in.request, r.To)
		if grown || in.fsResizePending || (!in.pvCapacity.IsZero() && in.pvCapacity.Cmp(r.To) >= 0) {
			r.Step = v1alpha1.ResizeStarting
			p.stopped = false
		}
	case v1alpha1.ResizeStarting:
		p.request = maxQuantity(in.request, r.To)
		p.stopped = false
		if grown && in.podReady {
			p.finish(in, fmt.Sprintf("Grew the volume from %s to %s offline; IRIS was stopped for %s", r.From.String(), r.To.String(), in.now.Sub(r.StartedAt.Time).Round(time.Second)))
		}
	}
}

func (p *growthPlan) finish(in growthInput, message string) {
	p.rec, p.finished = nil, true
	p.events = append(p.events, growthEvent{corev1.EventTypeNormal, "Expanded", message})
}

// growthTarget is the size the claim should have: spec.storage.size, or
// more when autoGrow sees the volume past its threshold (on a measure made
// after the last growth: an older one would count the old size), never
// past its limit; atLimit says autoGrow wants more than the limit allows.
func growthTarget(in growthInput) (target resource.Quantity, automatic, atLimit bool) {
	target = maxQuantity(in.spec, in.request)
	ag, u := in.autoGrow, in.usage
	if ag == nil || u == nil || !u.MeasuredAt.After(in.lastResized) || in.rec != nil {
		return target, false, false
	}
	if u.Ratio()*100 < float64(ag.ThresholdPercent) {
		return target, false, false
	}
	if in.request.Cmp(ag.Limit) >= 0 {
		return target, false, true
	}
	grown := int64(math.Ceil(float64(in.request.Value()) * float64(100+ag.IncreasePercent) / 100))
	// Whole mebibytes: drivers allocate in such units and a request of
	// odd bytes reads badly.
	const mi = 1 << 20
	grown = (grown + mi - 1) / mi * mi
	want := resource.NewQuantity(grown, resource.BinarySI)
	if want.Cmp(ag.Limit) > 0 {
		want = &ag.Limit
	}
	if want.Cmp(target) > 0 {
		return want.DeepCopy(), true, false
	}
	return target, false, false
}

func maxQuantity(a, b resource.Quantity) resource.Quantity {
	if b.Cmp(a) > 0 {
		return b.DeepCopy()
	}
	return a.DeepCopy()
}
