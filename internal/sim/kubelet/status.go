package kubelet

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Waiting reasons the real kubelet uses.
const (
	ReasonContainerCreating = "ContainerCreating"
	ReasonCrashLoopBackOff  = "CrashLoopBackOff"
)

// containerView is what the simulated runtime knows about one container.
type containerView struct {
	Name, Image string
	ID          string
	Running     bool
	// Ready and Started are the readiness and startup probes' results
	// while running (true without such probes).
	Ready, Started bool
	StartedAt      time.Time
	RestartCount   int32
	Waiting        string
	WaitingMessage string
	// Terminated is set when the container stopped for good (pod deleted
	// or restart policy says no).
	Terminated *corev1.ContainerStateTerminated
	Last       *corev1.ContainerStateTerminated
}

// podView is what the simulated kubelet knows about one pod.
type podView struct {
	HostIP, PodIP string
	StartTime     time.Time
	// VolumesReady: attached and mounted; the sandbox can start.
	VolumesReady bool
	Containers   []containerView
	// Phase overrides the computed phase when set (terminal phases).
	Phase corev1.PodPhase
}

// buildStatus renders a pod status from the view, keeping the transition
// times of conditions whose status did not change, so that an unchanged
// pod yields an equal status and no write.
func buildStatus(old corev1.PodStatus, v podView, now time.Time) corev1.PodStatus {
	st := corev1.PodStatus{
		HostIP: v.HostIP,
		PodIP:  v.PodIP,
		QOSClass: func() corev1.PodQOSClass {
			if old.QOSClass != "" {
				return old.QOSClass
			}
			return corev1.PodQOSBestEffort
		}(),
	}
	if v.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: v.HostIP}}
	}
	if v.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: v.PodIP}}
	}
	if !v.StartTime.IsZero() {
		t := metav1.NewTime(v.StartTime)
		st.StartTime = &t
	}
	allReady := len(v.Containers) > 0
	anyStarted := false
	for _, c := range v.Containers {
		cs := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "sim://" + c.Image, ContainerID: c.ID,
			RestartCount: c.RestartCount, LastTerminationState: corev1.ContainerState{Terminated: c.Last},
		}
		switch {
		case c.Running:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.StartedAt)}
			cs.Ready, cs.Started = c.Ready && c.Started, ptr(c.Started)
			allReady = allReady && cs.Ready
			anyStarted = true
		case c.Terminated != nil:
			cs.State.Terminated = c.Terminated
			cs.Started = ptr(false)
			allReady = false
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.Waiting, Message: c.WaitingMessage}
			cs.Started = ptr(false)
			allReady = false
		}
		if c.RestartCount > 0 || c.Last != nil {
			anyStarted = true
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	switch {
	case v.Phase != "":
		st.Phase = v.Phase
	case anyStarted:
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	ready := boolStatus(allReady && v.Phase == "")
	st.Conditions = []corev1.PodCondition{
		cond(old, corev1.PodReadyToStartContainers, boolStatus(v.VolumesReady), now),
		cond(old, corev1.PodInitialized, corev1.ConditionTrue, now),
		cond(old, corev1.PodReady, ready, now),
		cond(old, corev1.ContainersReady, ready, now),
		cond(old, corev1.PodScheduled, corev1.ConditionTrue, now),
	}
	// Conditions written by others (DisruptionTarget from the taint-eviction
	// controller or the eviction API) stay.
	for _, o := range old.Conditions {
		if !slices.ContainsFunc(st.Conditions, func(c corev1.PodCondition) bool { return c.Type == o.Type }) {
			st.Conditions = append(st.Conditions, o)
		}
	}
	normalizeTimes(&st)
	return st
}

// normalizeTimes truncates every timestamp to what the API server stores
// (RFC 3339, whole seconds), as the real kubelet's status manager does
// before comparing: otherwise a status built now never equals the stored
// one, and every sync rewrites it unchanged.
func normalizeTimes(st *corev1.PodStatus) {
	second := func(t *metav1.Time) { *t = t.Rfc3339Copy() }
	state := func(s *corev1.ContainerState) {
		if s.Running != nil {
			second(&s.Running.StartedAt)
		}
		if s.Terminated != nil {
			s.Terminated = s.Terminated.DeepCopy()
			second(&s.Terminated.StartedAt)
			second(&s.Terminated.FinishedAt)
		}
	}
	if st.StartTime != nil {
		second(st.StartTime)
	}
	for i := range st.Conditions {
		second(&st.Conditions[i].LastProbeTime)
		second(&st.Conditions[i].LastTransitionTime)
	}
	for i := range st.ContainerStatuses {
		state(&st.ContainerStatuses[i].State)
		state(&st.ContainerStatuses[i].LastTerminationState)
	}
}

func cond(old corev1.PodStatus, t corev1.PodConditionType, s corev1.ConditionStatus, now time.Time) corev1.PodCondition {
	c := corev1.PodCondition{Type: t, Status: s, LastTransitionTime: metav1.NewTime(now)}
	for _, o := range old.Conditions {
		if o.Type == t && o.Status == s {
			c.LastTransitionTime = o.LastTransitionTime
		}
	}
	if s != corev1.ConditionTrue && (t == corev1.PodReady || t == corev1.ContainersReady) {
		c.Reason = "ContainersNotReady"
	}
	return c
}

func boolStatus(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

func ptr[T any](v T) *T { return &v }
