package observe

import (
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/irisha/irisha/internal/resources"
)

// Violation kinds.
const (
	// VolumeMultiAttach: one PV attached (status.attached) to two nodes.
	VolumeMultiAttach = "VolumeAttachedToTwoNodes"
	// AppMultiRunning: two pods of one application (namespace + selector)
	// with running containers.
	AppMultiRunning = "TwoPodsRunning"
)

// Violation is one interval during which W1 was observably broken.
type Violation struct {
	Kind string
	// Subject is the PV name or namespace/selector.
	Subject string
	// Holders are the nodes or pods involved (the largest set seen).
	Holders []string
	Start   time.Time
	// End is zero while the violation lasts.
	End time.Time
}

// W1 is the single-writer checker's core. It is safe for concurrent use.
type W1 struct {
	selector labels.Selector
	mayWrite func(*corev1.Pod) bool

	mu    sync.Mutex
	vas   map[string]vaInfo
	pods  map[string]podInfo
	open  map[string]*Violation
	found []*Violation
}

type vaInfo struct {
	pv, node string
	attached bool
}

type podInfo struct {
	namespace string
	running   bool
}

// NewW1 checks volumes and the pods matching selector (per namespace); a
// pod counts as a writer while a container of it runs (Running), which is
// right when the container is IRIS itself, as in the reference deployment.
func NewW1(selector labels.Selector) *W1 { return NewW1Writers(selector, Running) }

// NewW1Writers is NewW1 with mayWrite deciding which pods count as writers
// (RunningReady for irisha's pods).
func NewW1Writers(selector labels.Selector, mayWrite func(*corev1.Pod) bool) *W1 {
	return &W1{selector: selector, mayWrite: mayWrite, vas: map[string]vaInfo{}, pods: map[string]podInfo{}, open: map[string]*Violation{}}
}

// VolumeAttachment records a VolumeAttachment's state at t.
func (w *W1) VolumeAttachment(t time.Time, va *storagev1.VolumeAttachment, deleted bool) {
	if va.Spec.Source.PersistentVolumeName == nil {
		return
	}
	pv := *va.Spec.Source.PersistentVolumeName
	w.mu.Lock()
	defer w.mu.Unlock()
	if deleted {
		delete(w.vas, va.Name)
	} else {
		w.vas[va.Name] = vaInfo{pv: pv, node: va.Spec.NodeName, attached: va.Status.Attached}
	}
	var nodes []string
	for _, v := range w.vas {
		if v.pv == pv && v.attached && !slices.Contains(nodes, v.node) {
			nodes = append(nodes, v.node)
		}
	}
	w.update(t, VolumeMultiAttach, pv, nodes)
}

// Pod records a pod's state at t.
func (w *W1) Pod(t time.Time, p *corev1.Pod, deleted bool) {
	if !w.selector.Matches(labels.Set(p.Labels)) {
		return
	}
	key := p.Namespace + "/" + p.Name
	w.mu.Lock()
	defer w.mu.Unlock()
	if deleted {
		delete(w.pods, key)
	} else {
		w.pods[key] = podInfo{namespace: p.Namespace, running: w.mayWrite(p)}
	}
	var running []string
	for k, v := range w.pods {
		if v.namespace == p.Namespace && v.running {
			running = append(running, k)
		}
	}
	w.update(t, AppMultiRunning, p.Namespace+"/"+w.selector.String(), running)
}

// update opens or closes the violation of one subject; w.mu held.
func (w *W1) update(t time.Time, kind, subject string, holders []string) {
	sort.Strings(holders)
	key := kind + "|" + subject
	v := w.open[key]
	switch {
	case len(holders) >= 2 && v == nil:
		v = &Violation{Kind: kind, Subject: subject, Holders: holders, Start: t}
		w.open[key] = v
		w.found = append(w.found, v)
	case len(holders) >= 2:
		if len(holders) > len(v.Holders) {
			v.Holders = holders
		}
	case v != nil:
		v.End = t
		delete(w.open, key)
	}
}

// Violations returns every violation seen so far (open ones with a zero End).
func (w *W1) Violations() []Violation {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Violation, 0, len(w.found))
	for _, v := range w.found {
		c := *v
		c.Holders = slices.Clone(v.Holders)
		out = append(out, c)
	}
	return out
}

// Running reports whether any container of the pod is running as far as the
// API server knows: the pod may be writing. A Terminating pod on a dead node
// keeps its last reported state, so it counts until it is gone.
func Running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil {
			return true
		}
	}
	return false
}

// RunningReady counts a pod whose container is irisha's agent: the agent
// runs while it waits for the fencing Lease, before it starts IRIS, so a
// running container is no writer yet. It reports Ready only while it holds
// the Lease and IRIS runs. A pod on a lost node keeps its last Ready
// condition, so it counts until it is deleted, as Running does.
func RunningReady(p *corev1.Pod) bool { return Running(p) && resources.PodReady(p) }
