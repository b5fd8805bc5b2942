package instance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// Condition reasons.
const (
	ReasonAsExpected       = "AsExpected"
	ReasonInvalidConfig    = "InvalidConfig"
	ReasonInvalidReference = "InvalidReference"
	ReasonConflict         = "ObjectConflict"
	ReasonResizeRefused    = "ResizeRefused"
	ReasonVolumeLost       = "VolumeLost"
	ReasonVolumePending    = "VolumePending"
	ReasonPodStarting      = "PodStarting"
	ReasonNoAgent          = "NoAgent"
	ReasonNoPod            = "NoPod"
	ReasonPodReady         = "PodReady"
	ReasonRolloutStable    = "RolloutComplete"
	ReasonRollingOut       = "RollingOut"
)

// observed is what the reconciler saw of an instance's objects.
type observed struct {
	deployment *appsv1.Deployment
	pvc        *corev1.PersistentVolumeClaim
	pods       []corev1.Pod
	// problem, when set, makes the instance Degraded: the reason and message
	// of a bad spec or a conflict the user must fix.
	problem *problem
	// restore is what became of spec.restoreFrom (nil without one).
	restore *restoreOutcome
	// growth is the plan for the volume's size, and what it was made from.
	growth   *growthPlan
	growthIn growthInput
	// config is the ConfigApplied condition (nil: left as it is).
	config *configState
}

type problem struct{ reason, message string }

// computeStatus derives the status from what was observed. It is pure: now is
// the time stamped on conditions that change.
func computeStatus(inst *v1alpha1.IrisInstance, obs observed, now metav1.Time) v1alpha1.IrisInstanceStatus {
	st := *inst.Status.DeepCopy()
	st.ObservedGeneration = inst.Generation
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: inst.Generation, LastTransitionTime: now,
		})
	}

	st.PVC, st.Capacity = "", nil
	if obs.pvc != nil {
		st.PVC = obs.pvc.Name
		if c, ok := obs.pvc.Status.Capacity[corev1.ResourceStorage]; ok {
			st.Capacity = &c
		}
	}
	pod := currentPod(inst, obs.pods)
	st.Pod, st.Node = "", ""
	if pod != nil {
		st.Pod, st.Node = pod.Name, pod.Spec.NodeName
	}
	ready := pod != nil && resources.Serving(pod, inst)

	switch {
	case obs.problem != nil:
		set(v1alpha1.ConditionDegraded, metav1.ConditionTrue, obs.problem.reason, obs.problem.message)
	case obs.pvc != nil && obs.pvc.Status.Phase == corev1.ClaimLost:
		set(v1alpha1.ConditionDegraded, metav1.ConditionTrue, ReasonVolumeLost,
			fmt.Sprintf("PersistentVolumeClaim %s lost its volume", obs.pvc.Name))
	default:
		set(v1alpha1.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	}

	if r := obs.restore; r != nil {
		set(v1alpha1.ConditionRestored, r.status, r.reason, r.message)
	}
	if g := obs.growth; g != nil {
		set(v1alpha1.ConditionResizing, g.resizing.status, g.resizing.reason, g.resizing.message)
		set(v1alpha1.ConditionVolumeGrowth, g.growth.status, g.growth.reason, g.growth.message)
		st.Volume = volumeStatus(inst.Status.Volume, obs.growthIn, *g)
	}

	if c := obs.config; c != nil {
		set(v1alpha1.ConditionConfigApplied, c.status, c.reason, c.message)
	}

	switch {
	case ready:
		set(v1alpha1.ConditionReady, metav1.ConditionTrue, ReasonPodReady, fmt.Sprintf("IRIS is ready in pod %s on node %s", pod.Name, pod.Spec.NodeName))
	case pod != nil && !resources.RunsAgent(pod, inst):
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonNoAgent, fmt.Sprintf(
			"pod %s does not run the irisha agent in container %s (its command was changed), so it holds no fencing Lease and does not count; irisha puts the Deployment back",
			pod.Name, resources.ContainerName))
	case pod != nil:
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonPodStarting, fmt.Sprintf("pod %s is %s", pod.Name, podState(pod)))
	default:
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonNoPod, "no pod of the instance exists yet")
	}

	switch {
	case obs.pvc != nil && obs.pvc.Status.Phase == corev1.ClaimPending:
		set(v1alpha1.ConditionProgressing, metav1.ConditionTrue, ReasonVolumePending, fmt.Sprintf("PersistentVolumeClaim %s is not bound yet", obs.pvc.Name))
	case !rolloutComplete(obs.deployment) || !ready:
		set(v1alpha1.ConditionProgressing, metav1.ConditionTrue, ReasonRollingOut, "waiting for the pod to run the current spec and become ready")
	default:
		set(v1alpha1.ConditionProgressing, metav1.ConditionFalse, ReasonRolloutStable, "")
	}

	switch {
	case meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionDegraded):
		st.Phase = v1alpha1.PhaseDegraded
	case ready:
		st.Phase = v1alpha1.PhaseRunning
	case pod != nil && pod.Spec.NodeName != "":
		st.Phase = v1alpha1.PhaseStarting
	default:
		st.Phase = v1alpha1.PhasePending
	}
	return st
}

// currentPod picks the pod that speaks for the instance: one serving it, else
// the newest one not being deleted, else the newest.
func currentPod(inst *v1alpha1.IrisInstance, pods []corev1.Pod) *corev1.Pod {
	if len(pods) == 0 {
		return nil
	}
	sorted := append([]corev1.Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool {
		return sorted[j].CreationTimestamp.Before(&sorted[i].CreationTimestamp)
	})
	for i := range sorted {
		if resources.Serving(&sorted[i], inst) {
			return &sorted[i]
		}
	}
	for i := range sorted {
		if sorted[i].DeletionTimestamp == nil {
			return &sorted[i]
		}
	}
	return &sorted[0]
}

// podState says what a pod that is not ready is doing, in words that change
// only when there is something to tell: the steps of a normal start
// (sandbox, init container, container creation) are one state, so that a
// start does not cost a status write per step, while a container waiting for
// any other reason (ImagePullBackOff, CrashLoopBackOff, ...) is named.
func podState(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	if p.Spec.NodeName == "" {
		return "not scheduled yet"
	}
	for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && !startingReasons.Has(w.Reason) {
			return fmt.Sprintf("waiting: container %s: %s", cs.Name, w.Reason)
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		return "running, not ready"
	}
	return "starting"
}

// startingReasons are the kubelet's waiting reasons of a normal start.
var startingReasons = sets.New("ContainerCreating", "PodInitializing")

func rolloutComplete(d *appsv1.Deployment) bool {
	if d == nil {
		return false
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= 1 && d.Status.AvailableReplicas >= 1
}

// writeStatus patches the status subresource with an optimistic lock, and
// not at all when nothing changed: a steady instance costs no writes. The
// status was computed from inst; if the instance changed since (the
// failover controller wrote its fields, or this controller's last write
// was not in the cache yet), the patch conflicts and errStaleStatus says
// to compute it again from a fresh read: writing it anyway would undo
// newer steps, such as a growth's record.
func (r *Reconciler) writeStatus(ctx context.Context, inst *v1alpha1.IrisInstance, status v1alpha1.IrisInstanceStatus) error {
	if equality.Semantic.DeepEqual(inst.Status, status) {
		return nil
	}
	patch := client.MergeFromWithOptions(inst.DeepCopy(), client.MergeFromWithOptimisticLock{})
	next := inst.DeepCopy()
	next.Status = status
	if err := r.Status().Patch(ctx, next, patch); err != nil {
		if apierrors.IsConflict(err) {
			return errStaleStatus
		}
		return fmt.Errorf("patching status of IrisInstance %s: %w", inst.Name, err)
	}
	return nil
}

// errStaleStatus: the instance changed since the status was computed.
var errStaleStatus = errors.New("the IrisInstance changed since its status was computed")

// staleRetry is how soon a status computed from a stale read is computed
// again.
const staleRetry = 100 * time.Millisecond
