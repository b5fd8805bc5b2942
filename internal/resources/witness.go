package resources

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The node witnesses (irisha-manager witness): one per node, a DaemonSet.
const (
	WitnessName = "irisha-witness"
	// WitnessPort is where a witness answers agents, on its node's IP.
	WitnessPort = 7946
)

// WitnessObjects are what runs the node witnesses in namespace: their
// ServiceAccount, the Role that lets them keep their own records, its
// binding, and the DaemonSet.
type WitnessObjects struct {
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
	DaemonSet      *appsv1.DaemonSet
}

// Witnesses builds the witnesses' objects for the irisha image.
func Witnesses(namespace, image string) WitnessObjects {
	labels := map[string]string{"app.kubernetes.io/name": WitnessName, "app.kubernetes.io/managed-by": "irisha"}
	meta := metav1.ObjectMeta{Name: WitnessName, Namespace: namespace, Labels: labels}
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	return WitnessObjects{
		ServiceAccount: &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta},
		Role: &rbacv1.Role{
			TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta,
			// Each witness writes its own record; RBAC cannot limit create
			// by name, and the records are named by node.
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}},
		},
		RoleBinding: &rbacv1.RoleBinding{
			TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta,
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: WitnessName},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: WitnessName, Namespace: namespace}},
		},
		DaemonSet: &appsv1.DaemonSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
			ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": WitnessName}},
				// One node's witness replaced at a time (maxUnavailable
				// 1): an update never takes the majority away.
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: WitnessName,
						// A witness must run on every node, cordoned or
						// tainted: a missing one counts as "can reach",
						// never as "cannot", but weakens the majority.
						Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
						PriorityClassName: "system-node-critical",
						SecurityContext:   &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(int64(65532)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
						Containers: []corev1.Container{{
							Name:            "witness",
							Image:           image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Command:         []string{AgentImageBinary, "witness", "--listen-address", ":" + strconv.Itoa(WitnessPort)},
							Env: []corev1.EnvVar{
								field("NODE_NAME", "spec.nodeName"), field("HOST_IP", "status.hostIP"),
								field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"),
							},
							// Agents on other nodes dial the node's IP.
							Ports: []corev1.ContainerPort{{Name: "witness", ContainerPort: WitnessPort, HostPort: WitnessPort, Protocol: corev1.ProtocolTCP}},
							Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
								corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi"),
							}},
							SecurityContext: restrictedContainer(),
						}},
					},
				},
			},
		},
	}
}
