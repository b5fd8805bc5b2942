package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Labels on every object irisha creates for an instance.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"
	// LabelIrisInstance selects an instance's objects; it is the pod selector.
	LabelIrisInstance = v1alpha1.LabelInstance

	ManagedBy = "irisha"
)

// PVCName is the name of the instance's durable %SYS volume claim.
func PVCName(inst *v1alpha1.IrisInstance) string { return inst.Name + "-data" }

// MergeSecretName is the name of the Secret holding the effective CPF merge file.
func MergeSecretName(inst *v1alpha1.IrisInstance) string { return inst.Name + "-merge" }

// DeploymentName is the name of the instance's Deployment.
func DeploymentName(inst *v1alpha1.IrisInstance) string { return inst.Name }

// ServiceName is the name of the instance's Service.
func ServiceName(inst *v1alpha1.IrisInstance) string { return inst.Name }

// ServiceAccountName is the name of the instance's ServiceAccount.
func ServiceAccountName(inst *v1alpha1.IrisInstance) string { return inst.Name }

// SelectorLabels select the instance's pods.
func SelectorLabels(inst *v1alpha1.IrisInstance) map[string]string {
	return map[string]string{LabelIrisInstance: inst.Name}
}

// Labels are put on every object of the instance.
func Labels(inst *v1alpha1.IrisInstance) map[string]string {
	return map[string]string{
		LabelName:         "iris",
		LabelInstance:     inst.Name,
		LabelManagedBy:    ManagedBy,
		LabelComponent:    "database",
		LabelIrisInstance: inst.Name,
	}
}

// PodReady says whether a pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// objectMeta is the metadata of an object irisha creates for inst: its
// name, the instance's namespace and the instance's labels.
func objectMeta(inst *v1alpha1.IrisInstance, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: inst.Namespace, Labels: Labels(inst)}
}
