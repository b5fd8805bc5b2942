package chaos

import (
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irisha/irisha/internal/observe"
	"github.com/irisha/irisha/internal/resources"
)

// recorder derives a drill's marks from what the API server shows, fed by
// observe.Watch. It knows the pod that served at the fault; the attach
// milestone comes from observe.Timeline, which tracks the target's volumes.
type recorder struct {
	observe.NopSink
	namespace string
	selector  labels.Selector
	timeline  *observe.Timeline

	mu      sync.Mutex
	faultAt time.Time
	oldUID  types.UID
	oldNode string
	// oldRestarts is the old pod's IRIS container restart count at the
	// fault: a higher one is a restart (iris-stop).
	oldRestarts int32
	container   string
	marks       map[MarkKind]Mark
	// notReadySince: pods seen not Ready after the fault; Ready again
	// after that is a recovery of that pod.
	notReady map[types.UID]bool
	// pods are the target's pods as last seen, for serving().
	pods map[types.UID]*corev1.Pod
}

func newRecorder(namespace string, selector labels.Selector, container string) *recorder {
	return &recorder{namespace: namespace, selector: selector, container: container,
		timeline: observe.NewTimeline(namespace, selector), marks: map[MarkKind]Mark{}, notReady: map[types.UID]bool{}, pods: map[types.UID]*corev1.Pod{}}
}

// fault starts recording a drill at t, old being the pod that served; the
// previous drill's marks are dropped.
func (r *recorder) fault(t time.Time, old *corev1.Pod) {
	r.timeline.Fault(t, old)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faultAt, r.oldUID, r.oldNode = t, old.UID, old.Spec.NodeName
	r.oldRestarts = restartsOf(old, r.container)
	r.marks = map[MarkKind]Mark{MarkFault: {Kind: MarkFault, Detail: "on " + old.Spec.NodeName}}
	r.notReady = map[types.UID]bool{}
}

// mark records kind at t unless seen already (the first counts).
func (r *recorder) markLocked(t time.Time, kind MarkKind, detail string) {
	if r.faultAt.IsZero() || t.Before(r.faultAt) {
		return
	}
	if _, seen := r.marks[kind]; !seen {
		r.marks[kind] = Mark{Kind: kind, Seconds: seconds(t.Sub(r.faultAt)), Detail: detail}
	}
}

// Pod implements observe.Sink.
func (r *recorder) Pod(t time.Time, p *corev1.Pod, deleted bool) {
	r.timeline.Pod(t, p, deleted)
	if p.Namespace != r.namespace || !r.selector.Matches(labels.Set(p.Labels)) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if deleted {
		delete(r.pods, p.UID)
	} else {
		r.pods[p.UID] = p
	}
	if r.faultAt.IsZero() {
		return
	}
	ready := resources.PodReady(p)
	if p.UID == r.oldUID {
		switch {
		case deleted:
			r.markLocked(t, MarkDetected, p.Name+" deleted")
			r.markLocked(t, MarkFenced, p.Name+" gone")
		case p.DeletionTimestamp != nil:
			r.markLocked(t, MarkDetected, p.Name+" terminating")
		case restartsOf(p, r.container) > r.oldRestarts:
			r.markLocked(t, MarkDetected, fmt.Sprintf("container %s restarted", r.container))
		case !ready:
			r.markLocked(t, MarkDetected, p.Name+" not Ready")
		}
	}
	if deleted {
		return
	}
	if !ready {
		r.notReady[p.UID] = true
		return
	}
	if p.UID != r.oldUID || r.notReady[p.UID] {
		r.markLocked(t, MarkReady, p.Name+" Ready on "+p.Spec.NodeName)
	}
}

// Node implements observe.Sink.
func (r *recorder) Node(t time.Time, n *corev1.Node, deleted bool) {
	r.timeline.Node(t, n, deleted)
	if deleted || resources.NodeReady(n) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n.Name == r.oldNode {
		r.markLocked(t, MarkDetected, n.Name+" NotReady")
	}
}

// PVC implements observe.Sink.
func (r *recorder) PVC(t time.Time, pvc *corev1.PersistentVolumeClaim, deleted bool) {
	r.timeline.PVC(t, pvc, deleted)
}

// VolumeAttachment implements observe.Sink.
func (r *recorder) VolumeAttachment(t time.Time, va *storagev1.VolumeAttachment, deleted bool) {
	r.timeline.VolumeAttachment(t, va, deleted)
}

// result returns the marks in time order, with the timeline's attach
// milestone and extra marks (the writer's, the backup's) merged in,
// earliest of each kind winning, and the operator's own marks replacing
// what the API showed of the same kind (when it declared the pod dead and
// had it fenced is what its failover waited for).
func (r *recorder) result(operator []Mark, extra ...Mark) []Mark {
	r.mu.Lock()
	marks := make(map[MarkKind]Mark, len(r.marks))
	for k, m := range r.marks {
		marks[k] = m
	}
	faultAt := r.faultAt
	r.mu.Unlock()
	for _, m := range r.timeline.Milestones() {
		if m.Key == observe.MilestoneVolumeAttached {
			extra = append(extra, Mark{Kind: MarkAttached, Seconds: seconds(m.At.Sub(faultAt)), Detail: "to " + m.Detail})
		}
	}
	for _, m := range extra {
		if cur, seen := marks[m.Kind]; !seen || m.Seconds < cur.Seconds {
			marks[m.Kind] = m
		}
	}
	for _, m := range operator {
		marks[m.Kind] = m
	}
	out := make([]Mark, 0, len(marks))
	for _, m := range marks {
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Seconds != out[j].Seconds {
			return out[i].Seconds < out[j].Seconds
		}
		return markRank(out[i].Kind) < markRank(out[j].Kind)
	})
	return out
}

func markRank(k MarkKind) int {
	for i, o := range MarkOrder {
		if o == k {
			return i
		}
	}
	return len(MarkOrder)
}

func restartsOf(p *corev1.Pod, container string) int32 {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container {
			return s.RestartCount
		}
	}
	return 0
}

// serving is the pod a client reaches now: the newest Ready pod of the
// target that is not being deleted (a Service stops routing to those), or
// "" if there is none.
func (r *recorder) serving() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *corev1.Pod
	for _, p := range r.pods {
		if p.DeletionTimestamp != nil || !resources.PodReady(p) {
			continue
		}
		if best == nil || best.CreationTimestamp.Before(&p.CreationTimestamp) ||
			(best.CreationTimestamp.Equal(&p.CreationTimestamp) && best.Name < p.Name) {
			best = p
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

// pod returns the target's pod of that name as last seen.
func (r *recorder) pod(name string) (*corev1.Pod, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pods {
		if p.Name == name {
			return p.DeepCopy(), true
		}
	}
	return nil, false
}
