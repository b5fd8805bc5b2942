package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

func condStatus(st corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestBuildStatusPhases(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	creating := podView{Containers: []containerView{{Name: "iris", Waiting: ReasonContainerCreating}}}
	st := buildStatus(corev1.PodStatus{}, creating, now)
	if st.Phase != corev1.PodPending || condStatus(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("creating: phase %s ready %s", st.Phase, condStatus(st, corev1.PodReady))
	}
	if st.ContainerStatuses[0].State.Waiting.Reason != ReasonContainerCreating {
		t.Fatalf("creating: %+v", st.ContainerStatuses[0].State)
	}

	running := podView{VolumesReady: true, Containers: []containerView{{Name: "iris", Running: true, Ready: true, Started: true, StartedAt: now}}}
	st = buildStatus(st, running, now.Add(time.Second))
	if st.Phase != corev1.PodRunning || condStatus(st, corev1.PodReady) != corev1.ConditionTrue {
		t.Fatalf("running: phase %s ready %s", st.Phase, condStatus(st, corev1.PodReady))
	}

	// Same view later: equal status, so the kubelet skips the write.
	again := buildStatus(st, running, now.Add(time.Minute))
	if !equality.Semantic.DeepEqual(st, again) {
		t.Fatal("an unchanged view must give an equal status")
	}

	// Crash: still Running phase, not Ready, back-off reason.
	crashed := podView{VolumesReady: true, Containers: []containerView{{Name: "iris", Waiting: ReasonCrashLoopBackOff, RestartCount: 1,
		Last: &corev1.ContainerStateTerminated{ExitCode: 137}}}}
	st = buildStatus(again, crashed, now.Add(2*time.Minute))
	if st.Phase != corev1.PodRunning || condStatus(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("crashed: phase %s ready %s", st.Phase, condStatus(st, corev1.PodReady))
	}
}

func TestBuildStatusProbes(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	// Running, started, readiness not (yet) passing: Running but not Ready.
	v := podView{VolumesReady: true, Containers: []containerView{{Name: "iris", Running: true, Started: true, StartedAt: now}}}
	st := buildStatus(corev1.PodStatus{}, v, now)
	if st.Phase != corev1.PodRunning || condStatus(st, corev1.PodReady) != corev1.ConditionFalse || st.ContainerStatuses[0].Ready {
		t.Fatalf("unready: phase %s ready %s", st.Phase, condStatus(st, corev1.PodReady))
	}
	// Startup probe pending: not started, hence not ready even if readiness says so.
	v.Containers[0].Started, v.Containers[0].Ready = false, true
	st = buildStatus(st, v, now)
	if *st.ContainerStatuses[0].Started || st.ContainerStatuses[0].Ready || condStatus(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("not started: %+v", st.ContainerStatuses[0])
	}
	v.Containers[0].Started = true
	st = buildStatus(st, v, now)
	if condStatus(st, corev1.PodReady) != corev1.ConditionTrue || condStatus(st, corev1.ContainersReady) != corev1.ConditionTrue {
		t.Fatalf("ready: %+v", st.Conditions)
	}
}
