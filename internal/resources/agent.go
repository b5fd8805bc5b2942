package resources

import (
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
)

// The agent (irisha-manager agent run) is PID 1 of the IRIS container; an
// init container copies it from the irisha image into an emptyDir, the way
// CloudNativePG injects its instance manager.
const (
	AgentMountPath = "/irisha"
	AgentBinary    = AgentMountPath + "/irisha-manager"
	AgentPort      = 8085
	agentPortName  = "agent"
	volumeAgent    = "irisha"
	initContainer  = "install-agent"
	// AgentImageBinary is where the irisha image keeps the binary.
	AgentImageBinary = "/irisha-manager"
)

// FencingLeaseName is the name of the instance's fencing Lease.
func FencingLeaseName(inst *v1alpha1.IrisInstance) string { return inst.Name + "-fencing" }

// WitnessesConfigMapName is the ConfigMap the operator mirrors the node
// witnesses into, for the instance's agent (which reads nothing outside its
// namespace).
func WitnessesConfigMapName(inst *v1alpha1.IrisInstance) string { return inst.Name + "-witnesses" }

// AgentRoleName is the name of the Role (and RoleBinding) of the instance's agent.
func AgentRoleName(inst *v1alpha1.IrisInstance) string { return inst.Name + "-agent" }

func agentInitContainer(in Inputs) corev1.Container {
	return corev1.Container{
		Name:            initContainer,
		Image:           in.AgentImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{AgentImageBinary, "agent", "install", AgentBinary},
		VolumeMounts:    []corev1.VolumeMount{{Name: volumeAgent, MountPath: AgentMountPath}},
		SecurityContext: restrictedContainer(),
	}
}

// agentCommand runs iris-main under the agent.
func agentCommand(in Inputs) []string {
	inst := in.Instance
	lease := time.Duration(inst.Spec.Failover.LeaseDurationSeconds) * time.Second
	return []string{
		AgentBinary, "agent", "run",
		"--instance-name", inst.Name,
		"--lease-name", FencingLeaseName(inst),
		"--witnesses", WitnessesConfigMapName(inst),
		"--lease-duration", lease.String(),
		"--listen-address", ":" + strconv.Itoa(AgentPort),
		"--superserver-address", "127.0.0.1:" + strconv.Itoa(SuperserverPort),
		"--data-mount", DataMountPath,
		"--",
		"/iris-main",
	}
}

// RunsAgent reports whether pod's IRIS container starts the irisha agent
// for inst, as the Deployment is built to: only such a pod takes the fencing
// Lease before IRIS starts. A pod whose command was edited (kubectl edit)
// runs IRIS unfenced if at all, so it never counts as the instance's writer
// and never makes it Ready, whatever its probes say.
func RunsAgent(pod *corev1.Pod, inst *v1alpha1.IrisInstance) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name != ContainerName {
			continue
		}
		// The flags that follow may differ between revisions (a new Lease
		// duration); the agent and its Lease may not.
		cmd := c.Command
		if len(cmd) < 3 || cmd[0] != AgentBinary || cmd[1] != "agent" || cmd[2] != "run" {
			return false
		}
		for i := 3; i+1 < len(cmd) && cmd[i] != "--"; i++ {
			if cmd[i] == "--lease-name" {
				return cmd[i+1] == FencingLeaseName(inst)
			}
		}
		return false
	}
	return false
}

// Serving reports whether pod serves inst: Ready, not being deleted, and
// running the agent (RunsAgent).
func Serving(pod *corev1.Pod, inst *v1alpha1.IrisInstance) bool {
	return pod.DeletionTimestamp.IsZero() && PodReady(pod) && RunsAgent(pod, inst)
}

// agentEnv gives the agent its pod's identity through the downward API.
func agentEnv() []corev1.EnvVar {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	return []corev1.EnvVar{
		field("POD_NAME", "metadata.name"),
		field("POD_NAMESPACE", "metadata.namespace"),
		field("POD_UID", "metadata.uid"),
	}
}

// agentProbe asks the agent's path every period seconds. The kubelet waits
// a whole period for the answer: the agent's own check may take its qlist
// timeout (--probe-timeout, 5 s), and an answer that is slow but comes
// before the next probe is due is not a failure.
func agentProbe(path string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString(agentPortName),
		}},
		PeriodSeconds:    period,
		TimeoutSeconds:   period,
		FailureThreshold: failures,
	}
}

// FencingLease is created empty by the operator so the agent's Role can be
// limited to this one Lease (RBAC cannot limit create by name). The operator
// never updates it afterwards: its spec belongs to the agents.
func FencingLease(in Inputs) *coordinationv1.Lease {
	inst := in.Instance
	return &coordinationv1.Lease{
		TypeMeta:   metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
		ObjectMeta: objectMeta(inst, FencingLeaseName(inst)),
		Spec: coordinationv1.LeaseSpec{
			LeaseDurationSeconds: ptr.To(inst.Spec.Failover.LeaseDurationSeconds),
		},
	}
}

// AgentRole lets the agent hold its own Lease and take part in its
// instance's backups, and nothing else.
func AgentRole(in Inputs) *rbacv1.Role {
	inst := in.Instance
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: objectMeta(inst, AgentRoleName(inst)),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
				ResourceNames: []string{FencingLeaseName(inst)}, Verbs: []string{"get", "watch", "update"}},
			// The witnesses to ask when the API server is out of reach,
			// read while it is not.
			{APIGroups: []string{""}, Resources: []string{"configmaps"},
				ResourceNames: []string{WitnessesConfigMapName(inst)}, Verbs: []string{"get"}},
			{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"irisbackups"},
				Verbs: []string{"get", "list", "watch"}},
			// The agent writes backup status only by merge patch (with
			// an optimistic lock) and reads it through its watch.
			{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"irisbackups/status"},
				Verbs: []string{"patch"}},
		},
	}
}

// AgentRoleBinding binds the agent's Role to the instance's ServiceAccount.
func AgentRoleBinding(in Inputs) *rbacv1.RoleBinding {
	inst := in.Instance
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(inst, AgentRoleName(inst)),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: AgentRoleName(inst)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccountName(inst), Namespace: inst.Namespace}},
	}
}

func restrictedContainer() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}
