package observe

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irisha/irisha/internal/resources"
)

// RTO clocks recovery of one application (namespace + selector) from one
// fault: recovered once a pod of the application that is new since the
// fault (new UID, restarted, or seen not Ready after it) is Ready, not
// being deleted, on a node whose Ready condition is True, with every
// volume that needs attaching attached to that node. Safe for concurrent
// use.
type RTO struct {
	namespace string
	selector  labels.Selector
	// attachRequired tells whether a CSI driver's volumes need attaching.
	attachRequired func(driver string) bool

	mu        sync.Mutex
	pods      map[types.UID]*corev1.Pod
	nodeReady map[string]bool
	pvcs      map[string]string // pvc name -> pv name
	pvDriver  map[string]string // pv -> CSI driver
	attached  map[string]map[string]bool
	vaByName  map[string]vaInfo

	faultAt     time.Time
	baseline    map[types.UID]int32 // ready pods at the fault -> restarts
	notReady    map[types.UID]bool
	recoveredAt time.Time
	recoveredBy string
	done        chan struct{}
}

// NewRTO clocks the application's recovery.
func NewRTO(namespace string, selector labels.Selector, attachRequired func(driver string) bool) *RTO {
	return &RTO{
		namespace: namespace, selector: selector, attachRequired: attachRequired,
		pods: map[types.UID]*corev1.Pod{}, nodeReady: map[string]bool{}, pvcs: map[string]string{},
		pvDriver: map[string]string{}, attached: map[string]map[string]bool{}, vaByName: map[string]vaInfo{},
		done: make(chan struct{}),
	}
}

// Done is closed when the application has recovered from the fault.
func (r *RTO) Done() <-chan struct{} { return r.done }

// Fault starts the clock at t: the pods given (those the caller saw Ready
// before injecting; the watch may lag behind) and those Ready as far as
// the RTO knows count only if they restart or go unready first. One RTO
// clocks one fault.
func (r *RTO) Fault(t time.Time, before ...*corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faultAt = t
	r.baseline, r.notReady = map[types.UID]int32{}, map[types.UID]bool{}
	for uid, p := range r.pods {
		if podReady(p) {
			r.baseline[uid] = restarts(p)
		}
	}
	for _, p := range before {
		if base, ok := r.baseline[p.UID]; !ok || restarts(p) > base {
			r.baseline[p.UID] = restarts(p)
		}
	}
}

// Recovered returns when the application recovered, by which pod, and
// whether it has.
func (r *RTO) Recovered() (time.Time, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recoveredAt, r.recoveredBy, !r.recoveredAt.IsZero()
}

// Elapsed is the RTO: recovery time minus fault time (0 if not recovered).
func (r *RTO) Elapsed() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recoveredAt.IsZero() {
		return 0
	}
	return r.recoveredAt.Sub(r.faultAt)
}

// Pod records a pod at t.
func (r *RTO) Pod(t time.Time, p *corev1.Pod, deleted bool) {
	if p.Namespace != r.namespace || !r.selector.Matches(labels.Set(p.Labels)) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if deleted {
		delete(r.pods, p.UID)
	} else {
		r.pods[p.UID] = p.DeepCopy()
		if !r.faultAt.IsZero() && !podReady(p) {
			r.notReady[p.UID] = true
		}
	}
	r.evaluate(t)
}

// Node records a node at t.
func (r *RTO) Node(t time.Time, n *corev1.Node, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nodeReady[n.Name] = !deleted && resources.NodeReady(n)
	r.evaluate(t)
}

// PVC records a claim at t.
func (r *RTO) PVC(t time.Time, pvc *corev1.PersistentVolumeClaim, deleted bool) {
	if pvc.Namespace != r.namespace {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if deleted {
		delete(r.pvcs, pvc.Name)
	} else {
		r.pvcs[pvc.Name] = pvc.Spec.VolumeName
	}
	r.evaluate(t)
}

// PV records a volume at t.
func (r *RTO) PV(t time.Time, pv *corev1.PersistentVolume, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case deleted:
		delete(r.pvDriver, pv.Name)
	case pv.Spec.CSI != nil:
		r.pvDriver[pv.Name] = pv.Spec.CSI.Driver
	default:
		r.pvDriver[pv.Name] = ""
	}
	r.evaluate(t)
}

// VolumeAttachment records an attachment at t.
func (r *RTO) VolumeAttachment(t time.Time, va *storagev1.VolumeAttachment, deleted bool) {
	if va.Spec.Source.PersistentVolumeName == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if deleted {
		delete(r.vaByName, va.Name)
	} else {
		r.vaByName[va.Name] = vaInfo{pv: *va.Spec.Source.PersistentVolumeName, node: va.Spec.NodeName, attached: va.Status.Attached}
	}
	r.attached = map[string]map[string]bool{}
	for _, v := range r.vaByName {
		if v.attached {
			if r.attached[v.pv] == nil {
				r.attached[v.pv] = map[string]bool{}
			}
			r.attached[v.pv][v.node] = true
		}
	}
	r.evaluate(t)
}

// evaluate records recovery at t if it holds now; r.mu held.
func (r *RTO) evaluate(t time.Time) {
	if r.faultAt.IsZero() || !r.recoveredAt.IsZero() {
		return
	}
	for uid, p := range r.pods {
		if !podReady(p) || !r.nodeReady[p.Spec.NodeName] {
			continue
		}
		if base, wasReady := r.baseline[uid]; wasReady && !r.notReady[uid] && restarts(p) == base {
			continue
		}
		if !r.volumesAttached(p) {
			continue
		}
		r.recoveredAt, r.recoveredBy = t, p.Name
		close(r.done)
		return
	}
}

func (r *RTO) volumesAttached(p *corev1.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pv := r.pvcs[v.PersistentVolumeClaim.ClaimName]
		if pv == "" {
			return false
		}
		driver, known := r.pvDriver[pv]
		if !known {
			return false
		}
		if driver != "" && r.attachRequired(driver) && !r.attached[pv][p.Spec.NodeName] {
			return false
		}
	}
	return true
}

func podReady(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && resources.PodReady(p)
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}
