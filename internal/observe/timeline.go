package observe

import (
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irisha/irisha/internal/resources"
)

// Milestone is the first occurrence of something after the fault.
type Milestone struct {
	Key    string
	Detail string
	At     time.Time
}

// Milestone keys derived from objects (event reasons are keys too, e.g.
// FailedAttachVolume, TaintManagerEviction, FailedScheduling).
const (
	MilestoneNodeNotReady   = "NodeNotReady"
	MilestonePodTerminating = "PodTerminating"
	MilestoneReplacement    = "ReplacementCreated"
	// MilestoneVolumeAttached: a VolumeAttachment of the application's
	// volume that was not attached before the fault reports attached (the
	// attach/detach controller's own Event may arrive seconds later).
	MilestoneVolumeAttached = "VolumeAttached"
	// MilestoneVolumeReported: a node other than those the application ran
	// on before the fault lists its volume in status.volumesAttached, which
	// is what a kubelet waits for before it mounts. The attach/detach
	// controller writes it at the end of a loop, after that loop's
	// detaches, so it can come seconds after VolumeAttached.
	MilestoneVolumeReported = "VolumeReported"
)

// Timeline records the first occurrence of each milestone after Fault, for
// one application (namespace + selector). Safe for concurrent use.
type Timeline struct {
	namespace string
	selector  labels.Selector

	mu      sync.Mutex
	faultAt time.Time
	known   map[types.UID]bool
	first   map[string]Milestone
	// volumes are the PVs bound to the application's namespace's claims;
	// attachedBefore the attachments that were attached before the fault.
	volumes        map[string]bool
	attachedBefore map[types.UID]bool
	// nodesBefore are the nodes the application's pods ran on at the fault.
	nodesBefore map[string]bool
}

// NewTimeline records milestones of the application.
func NewTimeline(namespace string, selector labels.Selector) *Timeline {
	return &Timeline{namespace: namespace, selector: selector, known: map[types.UID]bool{}, first: map[string]Milestone{},
		volumes: map[string]bool{}, attachedBefore: map[types.UID]bool{}, nodesBefore: map[string]bool{}}
}

// Fault starts recording at t; the pods given existed before (the watch
// may not have delivered them yet), so they are not replacements.
func (tl *Timeline) Fault(t time.Time, before ...*corev1.Pod) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.faultAt = t
	tl.first = map[string]Milestone{}
	for _, p := range before {
		tl.known[p.UID] = true
		tl.nodesBefore[p.Spec.NodeName] = true
	}
}

// Mark records key at t unless it was seen already since the fault.
func (tl *Timeline) Mark(t time.Time, key, detail string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.markLocked(t, key, detail)
}

func (tl *Timeline) markLocked(t time.Time, key, detail string) {
	if tl.faultAt.IsZero() || t.Before(tl.faultAt) {
		return
	}
	if _, seen := tl.first[key]; !seen {
		tl.first[key] = Milestone{Key: key, Detail: detail, At: t}
	}
}

// Milestones in time order.
func (tl *Timeline) Milestones() []Milestone {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	out := make([]Milestone, 0, len(tl.first))
	for _, m := range tl.first {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Since returns the offset of a milestone from the fault, if seen.
func (tl *Timeline) Since(key string) (time.Duration, bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	m, ok := tl.first[key]
	if !ok {
		return 0, false
	}
	return m.At.Sub(tl.faultAt), true
}

// Pod derives PodTerminating and ReplacementCreated.
func (tl *Timeline) Pod(t time.Time, p *corev1.Pod, deleted bool) {
	if deleted || p.Namespace != tl.namespace || !tl.selector.Matches(labels.Set(p.Labels)) {
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.faultAt.IsZero() {
		tl.known[p.UID] = true
		return
	}
	if !tl.known[p.UID] {
		tl.known[p.UID] = true
		tl.markLocked(t, MilestoneReplacement, p.Name)
	}
	if p.DeletionTimestamp != nil {
		tl.markLocked(t, MilestonePodTerminating, p.Name)
	}
}

// Node derives NodeNotReady and VolumeReported.
func (tl *Timeline) Node(t time.Time, n *corev1.Node, deleted bool) {
	if deleted {
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if !resources.NodeReady(n) {
		tl.markLocked(t, MilestoneNodeNotReady, n.Name)
	}
	if tl.nodesBefore[n.Name] {
		return
	}
	for _, av := range n.Status.VolumesAttached {
		if tl.volumes[volumeHandle(av.Name)] {
			tl.markLocked(t, MilestoneVolumeReported, n.Name)
		}
	}
}

// volumeHandle is the CSI volume handle in a node's unique volume name
// ("kubernetes.io/csi/<driver>^<handle>"); the simulated driver's handle is
// the PV's name.
func volumeHandle(unique corev1.UniqueVolumeName) string {
	s := string(unique)
	return s[strings.LastIndex(s, "^")+1:]
}

// PVC learns the application's volumes (every claim of its namespace).
func (tl *Timeline) PVC(_ time.Time, pvc *corev1.PersistentVolumeClaim, deleted bool) {
	if deleted || pvc.Namespace != tl.namespace || pvc.Spec.VolumeName == "" {
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.volumes[pvc.Spec.VolumeName] = true
}

// VolumeAttachment derives VolumeAttached.
func (tl *Timeline) VolumeAttachment(t time.Time, va *storagev1.VolumeAttachment, deleted bool) {
	pv := va.Spec.Source.PersistentVolumeName
	if deleted || !va.Status.Attached || pv == nil {
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if !tl.volumes[*pv] {
		return
	}
	if tl.faultAt.IsZero() {
		tl.attachedBefore[va.UID] = true
		return
	}
	// One created before the fault's second was attached before it, even
	// if the watch delivers that late.
	if !tl.attachedBefore[va.UID] && !va.CreationTimestamp.Before(&metav1.Time{Time: tl.faultAt.Truncate(time.Second)}) {
		tl.markLocked(t, MilestoneVolumeAttached, va.Spec.NodeName)
	}
}

// Event records the event's reason as a milestone if it concerns the
// application's namespace or a node.
func (tl *Timeline) Event(t time.Time, e *corev1.Event) {
	if e.InvolvedObject.Namespace != tl.namespace && e.InvolvedObject.Kind != "Node" {
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	// An event from before the fault may arrive after it; event times have
	// one-second precision, so the fault's second counts as after.
	if ts := eventTime(e); !ts.IsZero() && ts.Before(tl.faultAt.Truncate(time.Second)) {
		return
	}
	tl.markLocked(t, e.Reason, e.Message)
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}
