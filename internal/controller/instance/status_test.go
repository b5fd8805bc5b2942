package instance

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// The steps of a normal start read the same, so a start costs one status
// write; what a user must look at is named.
func TestPodState(t *testing.T) {
	waiting := func(name, reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
	}
	scheduled := func(phase corev1.PodPhase, inits, containers []corev1.ContainerStatus) *corev1.Pod {
		return &corev1.Pod{
			Spec:   corev1.PodSpec{NodeName: "node-2"},
			Status: corev1.PodStatus{Phase: phase, InitContainerStatuses: inits, ContainerStatuses: containers},
		}
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"unscheduled", &corev1.Pod{}, "not scheduled yet"},
		{"terminating", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Spec: corev1.PodSpec{NodeName: "node-1"}}, "terminating"},
		{"scheduled, no status yet", scheduled(corev1.PodPending, nil, nil), "starting"},
		{"init container running", scheduled(corev1.PodPending, nil, []corev1.ContainerStatus{waiting("iris", "PodInitializing")}), "starting"},
		{"creating the container", scheduled(corev1.PodPending, nil, []corev1.ContainerStatus{waiting("iris", "ContainerCreating")}), "starting"},
		{"image not pulled", scheduled(corev1.PodPending, nil, []corev1.ContainerStatus{waiting("iris", "ImagePullBackOff")}), "waiting: container iris: ImagePullBackOff"},
		{"init container crashing", scheduled(corev1.PodPending, []corev1.ContainerStatus{waiting("install-agent", "CrashLoopBackOff")}, []corev1.ContainerStatus{waiting("iris", "PodInitializing")}), "waiting: container install-agent: CrashLoopBackOff"},
		{"running, not ready", scheduled(corev1.PodRunning, nil, []corev1.ContainerStatus{{Name: "iris", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}), "running, not ready"},
	} {
		if got := podState(tc.pod); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPodWithoutTheAgentIsNeverReady: a Ready pod whose IRIS container was
// edited to start without the agent holds no fencing Lease; the instance is
// not Ready and not Running, and says why.
func TestPodWithoutTheAgentIsNeverReady(t *testing.T) {
	inst := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: "iris", Namespace: "db", Generation: 1}}
	readyPod := func(command ...string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "iris-1", Namespace: "db"},
			Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: resources.ContainerName, Command: command}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
	}
	now := metav1.Now()
	st := computeStatus(inst, observed{pods: []corev1.Pod{readyPod("/iris-main")}}, now)
	c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonNoAgent {
		t.Errorf("Ready = %+v, want False/%s", c, ReasonNoAgent)
	}
	if st.Phase == v1alpha1.PhaseRunning {
		t.Error("phase Running without the agent")
	}
	st = computeStatus(inst, observed{pods: []corev1.Pod{readyPod(resources.AgentBinary, "agent", "run", "--lease-name", resources.FencingLeaseName(inst))}}, now)
	if !meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady) || st.Phase != v1alpha1.PhaseRunning {
		t.Errorf("with the agent: phase %s, conditions %+v", st.Phase, st.Conditions)
	}
}
