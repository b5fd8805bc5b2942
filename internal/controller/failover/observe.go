package failover

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fencing"
	"github.com/irisha/irisha/internal/resources"
)

// world is what one reconcile read, kept for carrying out the actions.
type world struct {
	namespace string
	lease     *coordinationv1.Lease
	// volume is the unique name the kubelet reports in status.volumesInUse
	// for the instance's PV ("kubernetes.io/csi/<driver>^<handle>"); empty
	// when unknown.
	volume string
	nodes  map[string]*corev1.Node
}

// observe reads the instance's world from the cache and turns it into the
// pure decision's input.
func (r *Reconciler) observe(ctx context.Context, inst *v1alpha1.IrisInstance) (fencing.Observation, *world, error) {
	o := fencing.Observation{Now: r.Clock.Now(), Mode: inst.Spec.Failover.Mode, Timing: r.Timing, Nodes: map[string]fencing.Node{}}
	w := &world{namespace: inst.Namespace, nodes: map[string]*corev1.Node{}}

	lease := &coordinationv1.Lease{}
	switch err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.FencingLeaseName(inst)}, lease); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return o, nil, fmt.Errorf("reading the fencing Lease: %w", err)
	default:
		w.lease = lease
		since, _ := r.leases.observe(lease)
		if r.Witnesses != nil {
			// A gap in the operator's own reads restarts the window: it
			// cannot tell an unchanged Lease from one it could not see.
			if resumed := r.Witnesses.ReadsSince(); resumed.After(since) {
				since = resumed
			}
		}
		o.Lease = &fencing.Lease{
			Holder:    holderOf(lease),
			Duration:  durationOf(lease, time.Duration(inst.Spec.Failover.LeaseDurationSeconds)*time.Second),
			RenewTime: renewTimeOf(lease),
			Since:     since,
		}
	}

	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(inst.Namespace), client.MatchingLabels(resources.SelectorLabels(inst))); err != nil {
		return o, nil, fmt.Errorf("listing the instance's pods: %w", err)
	}
	nodeNames := map[string]bool{}
	for i := range pods.Items {
		p := podOf(&pods.Items[i], inst)
		o.Pods = append(o.Pods, p)
		nodeNames[p.Node] = true
	}

	attachments, volume, err := r.attachments(ctx, inst)
	if err != nil {
		return o, nil, err
	}
	w.volume = volume
	for _, va := range attachments {
		o.Attachments = append(o.Attachments, fencing.Attachment{
			Name: va.Name, UID: string(va.UID), Node: va.Spec.NodeName, Attached: va.Status.Attached,
			Deleting: r.deletions.deleting(va.UID, va.DeletionTimestamp != nil),
		})
		nodeNames[va.Spec.NodeName] = true
	}

	if r.Witnesses != nil {
		j := r.Witnesses.Judge(o.Now, time.Duration(inst.Spec.Failover.LeaseDurationSeconds)*time.Second, r.Timing.SkewMargin)
		o.Witnesses = &j
	}
	if f := inst.Status.LastFailover; f != nil {
		o.Failover = failoverOf(f)
		nodeNames[f.Node] = true
	}
	delete(nodeNames, "")
	for name := range nodeNames {
		node := &corev1.Node{}
		switch err := r.Get(ctx, client.ObjectKey{Name: name}, node); {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return o, nil, fmt.Errorf("reading node %s: %w", name, err)
		}
		w.nodes[name] = node
		n := nodeOf(node, volume)
		// The node Lease only sharpens the verdict (see fencing.Node): an
		// operator whose cache does not cover kube-node-lease still fails
		// over, on the Ready condition alone.
		nodeLease := &coordinationv1.Lease{}
		if err := r.Get(ctx, nodeLeaseKey(name), nodeLease); err == nil {
			n.LeaseRenew = renewTimeOf(nodeLease)
		} else if !apierrors.IsNotFound(err) {
			logf.FromContext(ctx).V(1).Info("Node Lease not readable; judging the kubelet by the Ready condition", "node", name, "error", err.Error())
		}
		o.Nodes[name] = n
	}
	return o, w, nil
}

// attachments returns the VolumeAttachments of the instance's PV and the
// PV's unique volume name.
func (r *Reconciler) attachments(ctx context.Context, inst *v1alpha1.IrisInstance) ([]storagev1.VolumeAttachment, string, error) {
	pvc := &corev1.PersistentVolumeClaim{}
	switch err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.PVCName(inst)}, pvc); {
	case apierrors.IsNotFound(err):
		return nil, "", nil
	case err != nil:
		return nil, "", fmt.Errorf("reading the instance's claim: %w", err)
	}
	pvName := pvc.Spec.VolumeName
	if pvName == "" {
		return nil, "", nil
	}
	list := &storagev1.VolumeAttachmentList{}
	if err := r.List(ctx, list, client.MatchingFields{indexAttachmentPV: pvName}); err != nil {
		return nil, "", fmt.Errorf("listing the attachments of %s: %w", pvName, err)
	}
	pv := &corev1.PersistentVolume{}
	switch err := r.Get(ctx, client.ObjectKey{Name: pvName}, pv); {
	case apierrors.IsNotFound(err):
		return list.Items, "", nil
	case err != nil:
		return nil, "", fmt.Errorf("reading volume %s: %w", pvName, err)
	}
	return list.Items, uniqueVolumeName(pv), nil
}

// uniqueVolumeName is how the kubelet names a CSI volume in
// status.volumesInUse.
func uniqueVolumeName(pv *corev1.PersistentVolume) string {
	if pv.Spec.CSI == nil {
		return ""
	}
	return "kubernetes.io/csi/" + pv.Spec.CSI.Driver + "^" + pv.Spec.CSI.VolumeHandle
}

// podOf is what the decision knows of a pod. A pod not running the agent is
// never Ready to it (no replacement that ends a failover), but its IRIS
// container still counts as running: a writer to fence if its node is lost.
func podOf(p *corev1.Pod, inst *v1alpha1.IrisInstance) fencing.Pod {
	out := fencing.Pod{Name: p.Name, UID: string(p.UID), Node: p.Spec.NodeName, Deleting: p.DeletionTimestamp != nil,
		Ready: resources.PodReady(p) && resources.RunsAgent(p, inst)}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == resources.ContainerName && cs.State.Running != nil {
			out.IrisRunning = true
		}
	}
	return out
}

func nodeOf(n *corev1.Node, volume string) fencing.Node {
	out := fencing.Node{
		Name:             n.Name,
		Ready:            corev1.ConditionUnknown,
		Unschedulable:    n.Spec.Unschedulable,
		CordonedByIrisha: n.Annotations[v1alpha1.AnnotationCordoned] == "true",
		ConfirmedOff:     n.Annotations[v1alpha1.AnnotationNodeFenced] == "true",
		TaintedByIrisha:  n.Annotations[v1alpha1.AnnotationOutOfService] == "true",
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeOutOfService {
			out.OutOfService = true
		}
	}
	for _, v := range n.Status.VolumesInUse {
		if volume != "" && string(v) == volume {
			out.VolumeInUse = true
		}
	}
	return out
}

func failoverOf(f *v1alpha1.FailoverRecord) *fencing.Failover {
	t := fencing.Target{Reason: f.Reason, Node: f.Node, Pod: f.Pod, PodUID: f.PodUID}
	if f.LeaseRenewTime != nil {
		t.LeaseRenewTime = f.LeaseRenewTime.Time
	}
	return &fencing.Failover{Target: t, DetectedAt: f.DetectedAt.Time, Done: f.ReadyAt != nil || f.Abandoned, Abandoned: f.Abandoned}
}
