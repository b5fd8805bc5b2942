package observe

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Sink receives timestamped objects from Watch. Implementations embed
// NopSink and override what they need; calls come from several goroutines.
type Sink interface {
	Pod(t time.Time, p *corev1.Pod, deleted bool)
	Node(t time.Time, n *corev1.Node, deleted bool)
	PVC(t time.Time, pvc *corev1.PersistentVolumeClaim, deleted bool)
	PV(t time.Time, pv *corev1.PersistentVolume, deleted bool)
	VolumeAttachment(t time.Time, va *storagev1.VolumeAttachment, deleted bool)
	Event(t time.Time, e *corev1.Event)
}

// NopSink ignores everything.
type NopSink struct{}

// Pod implements Sink.
func (NopSink) Pod(time.Time, *corev1.Pod, bool) {}

// Node implements Sink.
func (NopSink) Node(time.Time, *corev1.Node, bool) {}

// PVC implements Sink.
func (NopSink) PVC(time.Time, *corev1.PersistentVolumeClaim, bool) {}

// PV implements Sink.
func (NopSink) PV(time.Time, *corev1.PersistentVolume, bool) {}

// VolumeAttachment implements Sink.
func (NopSink) VolumeAttachment(time.Time, *storagev1.VolumeAttachment, bool) {}

// Event implements Sink.
func (NopSink) Event(time.Time, *corev1.Event) {}

// Adapters so the cores (which only implement some methods) are Sinks.
type (
	w1Sink       struct{ *W1 }
	rtoSink      struct{ *RTO }
	timelineSink struct{ *Timeline }
)

// Sink returns w as a Sink.
func (w *W1) Sink() Sink { return w1Sink{w} }

// Sink returns r as a Sink.
func (r *RTO) Sink() Sink { return rtoSink{r} }

// Sink returns tl as a Sink.
func (tl *Timeline) Sink() Sink { return timelineSink{tl} }

func (w1Sink) Node(time.Time, *corev1.Node, bool)                 {}
func (w1Sink) PVC(time.Time, *corev1.PersistentVolumeClaim, bool) {}
func (w1Sink) PV(time.Time, *corev1.PersistentVolume, bool)       {}
func (w1Sink) Event(time.Time, *corev1.Event)                     {}
func (rtoSink) Event(time.Time, *corev1.Event)                    {}
func (timelineSink) PV(time.Time, *corev1.PersistentVolume, bool) {}

// Watch feeds sinks from informers (list, then watch: nothing is polled)
// until ctx ends. It returns once the caches are synced, so every sink has
// seen the current state; objects are stamped with the time they arrive.
func Watch(ctx context.Context, cs kubernetes.Interface, sinks ...Sink) error {
	f := informers.NewSharedInformerFactory(cs, 0)
	add := func(inf cache.SharedIndexInformer, deliver func(t time.Time, obj any, deleted bool)) error {
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { deliver(time.Now(), o, false) },
			UpdateFunc: func(_, o any) { deliver(time.Now(), o, false) },
			DeleteFunc: func(o any) {
				if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				deliver(time.Now(), o, true)
			},
		})
		return err
	}
	handlers := []struct {
		inf     cache.SharedIndexInformer
		deliver func(t time.Time, obj any, deleted bool)
	}{
		{f.Core().V1().Pods().Informer(), func(t time.Time, o any, d bool) {
			if p, ok := o.(*corev1.Pod); ok {
				for _, s := range sinks {
					s.Pod(t, p, d)
				}
			}
		}},
		{f.Core().V1().Nodes().Informer(), func(t time.Time, o any, d bool) {
			if n, ok := o.(*corev1.Node); ok {
				for _, s := range sinks {
					s.Node(t, n, d)
				}
			}
		}},
		{f.Core().V1().PersistentVolumeClaims().Informer(), func(t time.Time, o any, d bool) {
			if p, ok := o.(*corev1.PersistentVolumeClaim); ok {
				for _, s := range sinks {
					s.PVC(t, p, d)
				}
			}
		}},
		{f.Core().V1().PersistentVolumes().Informer(), func(t time.Time, o any, d bool) {
			if p, ok := o.(*corev1.PersistentVolume); ok {
				for _, s := range sinks {
					s.PV(t, p, d)
				}
			}
		}},
		{f.Storage().V1().VolumeAttachments().Informer(), func(t time.Time, o any, d bool) {
			if v, ok := o.(*storagev1.VolumeAttachment); ok {
				for _, s := range sinks {
					s.VolumeAttachment(t, v, d)
				}
			}
		}},
		{f.Core().V1().Events().Informer(), func(t time.Time, o any, d bool) {
			if e, ok := o.(*corev1.Event); ok && !d {
				for _, s := range sinks {
					s.Event(t, e)
				}
			}
		}},
	}
	for _, h := range handlers {
		if err := add(h.inf, h.deliver); err != nil {
			return fmt.Errorf("adding an observer handler: %w", err)
		}
	}
	f.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		f.Shutdown()
	}()
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("observer cache of %v not synced: %w", typ, ctx.Err())
		}
	}
	return nil
}

// AttachRequiredFrom returns a lookup of CSIDriver.spec.attachRequired as
// listed now (true for unknown drivers, as the kubelet assumes).
func AttachRequiredFrom(ctx context.Context, cs kubernetes.Interface) (func(string) bool, error) {
	list, err := cs.StorageV1().CSIDrivers().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing CSIDrivers: %w", err)
	}
	m := map[string]bool{}
	for _, d := range list.Items {
		m[d.Name] = d.Spec.AttachRequired == nil || *d.Spec.AttachRequired
	}
	return func(driver string) bool {
		req, ok := m[driver]
		return !ok || req
	}, nil
}
