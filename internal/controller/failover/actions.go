package failover

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
)

// keepFencedHolders bounds the Lease's list of fenced identities. An
// identity matters only until its pod's kubelet learns that the pod was
// force-deleted (it then kills the container for good), so the list needs
// to reach back only over the failovers of one instance that can happen
// while an old node is still cut off: each takes a Lease duration plus the
// replacement's start, so five is a generous bound. It keeps the
// annotation, which every renewal of the Lease carries, a few hundred bytes.
const keepFencedHolders = 5

// act carries out one action. Each is idempotent: what is already done, or
// gone, is not an error. It returns a sentence for the Event.
func (r *Reconciler) act(ctx context.Context, w *world, a fencing.Action) (string, error) {
	switch a.Kind {
	// The node steps are re-applied to the node as it is now after a
	// conflict (patchNode), so each checks that it is still needed: another
	// instance's failover of the same node, or an admin, may have been first.
	case fencing.Cordon:
		return "cordoned node " + a.Node, r.patchNode(ctx, w, a.Node, func(n *corev1.Node) {
			if n.Spec.Unschedulable {
				return // an admin's cordon stays the admin's to lift
			}
			n.Spec.Unschedulable = true
			setAnnotation(n, v1alpha1.AnnotationCordoned, "true")
		})
	case fencing.Uncordon:
		return "uncordoned node " + a.Node + ", which is back", r.patchNode(ctx, w, a.Node, func(n *corev1.Node) {
			if n.Annotations[v1alpha1.AnnotationCordoned] != "true" {
				return
			}
			n.Spec.Unschedulable = false
			delete(n.Annotations, v1alpha1.AnnotationCordoned)
		})
	case fencing.TaintOutOfService:
		return "tainted node " + a.Node + " " + corev1.TaintNodeOutOfService + ":NoExecute", r.patchNode(ctx, w, a.Node, func(n *corev1.Node) {
			if slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeOutOfService }) {
				return
			}
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute})
			setAnnotation(n, v1alpha1.AnnotationOutOfService, "true")
		})
	case fencing.RemoveOutOfServiceTaint:
		return "removed " + corev1.TaintNodeOutOfService + " from node " + a.Node + ", which is back", r.patchNode(ctx, w, a.Node, func(n *corev1.Node) {
			if n.Annotations[v1alpha1.AnnotationOutOfService] != "true" {
				return // not irisha's taint
			}
			n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeOutOfService })
			delete(n.Annotations, v1alpha1.AnnotationOutOfService)
		})
	case fencing.ForceDeletePod:
		return "force-deleted pod " + a.Pod, r.forceDelete(ctx, w, a)
	case fencing.ClearLease:
		return "cleared the fencing Lease of " + a.Holder + " and marked it fenced", r.clearLease(ctx, w, a.Holder)
	case fencing.DeleteAttachment:
		return "deleted VolumeAttachment " + a.Attachment + " of node " + a.Node, r.deleteAttachment(ctx, a)
	case fencing.ReleaseVolume:
		return "released the volume from node " + a.Node + "'s volumesInUse", r.releaseVolume(ctx, w, a.Node)
	}
	return "", fmt.Errorf("unknown action %q", a.Kind)
}

// patchNode patches a node the way patchFresh does: the failovers of
// every instance of a lost node patch that one node at once.
func (r *Reconciler) patchNode(ctx context.Context, w *world, name string, mutate func(*corev1.Node)) error {
	node, ok := w.nodes[name]
	if !ok {
		return nil
	}
	node, err := patchFresh(ctx, r.Client, r.APIReader, node, false, mutate)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patching node %s: %w", name, err)
	}
	w.nodes[name] = node // the next step on this node patches from here
	return nil
}

func (r *Reconciler) forceDelete(ctx context.Context, w *world, a fencing.Action) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: w.namespace, Name: a.Pod}}
	uid := types.UID(a.PodUID)
	err := r.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("force-deleting pod %s: %w", a.Pod, err)
	}
	return nil
}

// deleteAttachment deletes the attachment the decision was made on, by
// UID: one of the same name created since (the volume attached to that node
// again) is not this failover's to delete.
func (r *Reconciler) deleteAttachment(ctx context.Context, a fencing.Action) error {
	va := &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: a.Attachment}}
	uid := types.UID(a.AttachmentUID)
	err := r.Delete(ctx, va, client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting VolumeAttachment %s: %w", a.Attachment, err)
	}
	if err == nil {
		r.deletions.asked(uid, r.Clock.Now())
	}
	return nil
}

// clearLease empties the holder, so the replacement's agent takes the Lease
// at once instead of waiting a whole duration, and lists the old identity as
// fenced, so its agent never takes it back. The resourceVersion precondition
// makes it lose against any renewal that raced with the decision.
func (r *Reconciler) clearLease(ctx context.Context, w *world, holder string) error {
	l := w.lease
	if l == nil || holderOf(l) != holder {
		return nil
	}
	changed := l.DeepCopy()
	changed.Spec.HolderIdentity = nil
	fenced := append(v1alpha1.FencedHolders(l.Annotations), holder)
	if len(fenced) > keepFencedHolders {
		fenced = fenced[len(fenced)-keepFencedHolders:]
	}
	if changed.Annotations == nil {
		changed.Annotations = map[string]string{}
	}
	changed.Annotations[v1alpha1.AnnotationFencedHolders] = v1alpha1.FencedHoldersValue(fenced)
	if err := r.Update(ctx, changed); err != nil {
		return fmt.Errorf("clearing the fencing Lease of %s: %w", holder, err)
	}
	return nil
}

// releaseVolume does what the dead kubelet would do after unmounting: drop
// the volume from status.volumesInUse. The attach/detach controller then
// detaches it at once (verifying that it is not in use) instead of waiting
// its 6-minute maxWaitForUnmountDuration. It is safe because the old IRIS
// has provably stopped: its Lease expired. Only the volumes of instances
// judged so are touched (volumeReleases batches those of one node).
func (r *Reconciler) releaseVolume(ctx context.Context, w *world, name string) error {
	node, ok := w.nodes[name]
	if w.volume == "" || !ok {
		return nil
	}
	return r.releases.release(ctx, name, w.volume, func(ctx context.Context, volumes sets.Set[string], prev *corev1.Node) (*corev1.Node, error) {
		if prev != nil {
			node = prev
		}
		return r.patchVolumesInUse(ctx, node, volumes)
	})
}

func setAnnotation(o metav1.Object, key, value string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	o.SetAnnotations(a)
}
