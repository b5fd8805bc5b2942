package instance

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/resources"
)

// Reasons of the ConfigApplied condition.
const (
	ReasonConfigApplied    = "Applied"
	ReasonConfigPending    = "Pending"
	ReasonConfigRestarting = "Restarting"
	ReasonConfigRefused    = "Refused"
	ReasonConfigFailed     = "MergeFailed"
)

// configState is the ConfigApplied condition to set.
type configState struct {
	status          metav1.ConditionStatus
	reason, message string
}

// configCondition compares the merge text the operator wrote (want, its
// iris.MergeHash) with the agent's report on the fencing Lease (annotation,
// "" when there is none). A report of another text says nothing about this
// one: the agent has not seen it yet (the kubelet updates a Secret volume
// within about a minute) or not acted on it.
func configCondition(want, annotation string) configState {
	rep, err := iris.ParseMergeReport(annotation)
	if annotation == "" || err != nil || rep.Hash != want {
		return configState{metav1.ConditionUnknown, ReasonConfigPending,
			fmt.Sprintf("waiting for the agent to merge CPF merge text %s into the running IRIS", want)}
	}
	switch rep.Outcome {
	case iris.MergeApplied:
		return configState{metav1.ConditionTrue, ReasonConfigApplied,
			fmt.Sprintf("IRIS runs with CPF merge text %s", want)}
	case iris.MergeRestarting:
		return configState{metav1.ConditionFalse, ReasonConfigRestarting,
			fmt.Sprintf("CPF merge text %s is merged and needs a restart, planned by the agent: %s", want, rep.Message)}
	case iris.MergeRefused:
		return configState{metav1.ConditionFalse, ReasonConfigRefused,
			fmt.Sprintf("IRIS refused CPF merge text %s and runs on its previous configuration: %s", want, rep.Message)}
	default:
		return configState{metav1.ConditionUnknown, ReasonConfigFailed,
			fmt.Sprintf("the agent could not run iris merge on CPF merge text %s and tries again: %s", want, rep.Message)}
	}
}

// observeConfig reads the agent's merge report for the merge text in
// objs (nil: the spec could not be built, and the condition stays as it
// was).
func (r *Reconciler) observeConfig(ctx context.Context, inst *v1alpha1.IrisInstance, objs *resources.Objects) (*configState, error) {
	if objs == nil || objs.MergeSecret == nil {
		return nil, nil
	}
	want := iris.MergeHash(objs.MergeSecret.Data[resources.MergeFileKey])
	l := &coordinationv1.Lease{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.FencingLeaseName(inst)}, l)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("getting the fencing Lease: %w", err)
	}
	c := configCondition(want, l.Annotations[v1alpha1.AnnotationConfigMerge])
	return &c, nil
}

// announceConfig emits an Event when the ConfigApplied condition changes
// its reason or message: a change merged, refused or restarting for.
func (r *Reconciler) announceConfig(inst *v1alpha1.IrisInstance, next v1alpha1.IrisInstanceStatus) {
	now := meta.FindStatusCondition(next.Conditions, v1alpha1.ConditionConfigApplied)
	if now == nil || now.Reason == ReasonConfigPending {
		return
	}
	before := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionConfigApplied)
	if before != nil && before.Reason == now.Reason && before.Message == now.Message {
		return
	}
	typ := corev1.EventTypeNormal
	if now.Status != metav1.ConditionTrue && now.Reason != ReasonConfigRestarting {
		typ = corev1.EventTypeWarning
	}
	r.event(inst, typ, "Config"+now.Reason, "MergeConfig", "%s", now.Message)
}
