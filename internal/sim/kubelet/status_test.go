package kubelet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
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

// The API server keeps whole seconds: a status read back from it must equal
// the one rebuilt from the same view, or every sync writes it again.
func TestBuildStatusStableAcrossTheAPIServer(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 123456789, time.UTC)
	v := podView{HostIP: "10.1.0.1", PodIP: "10.244.1.3", StartTime: now, VolumesReady: true, Containers: []containerView{{
		Name: "iris", Running: true, Ready: true, Started: true, StartedAt: now.Add(300 * time.Millisecond), RestartCount: 1,
		Last: &corev1.ContainerStateTerminated{ExitCode: 137, StartedAt: metav1.NewTime(now.Add(-time.Minute)), FinishedAt: metav1.NewTime(now.Add(-time.Second))},
	}}}
	written := buildStatus(corev1.PodStatus{}, v, now.Add(400*time.Millisecond))
	raw, err := json.Marshal(written)
	if err != nil {
		t.Fatal(err)
	}
	var stored corev1.PodStatus
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	if again := buildStatus(stored, v, now.Add(900*time.Millisecond)); !equality.Semantic.DeepEqual(again, stored) {
		t.Fatalf("the same view rebuilt on the stored status differs from it:\nstored %+v\nagain  %+v", stored, again)
	}
	if v.Containers[0].Last.FinishedAt.Nanosecond() == 0 {
		t.Fatal("building the status truncated the container's own record")
	}
}

func TestStatusBaseFollowsOwnWrites(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "10"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	st := &podState{}
	if got := st.statusBase(pod); got.Phase != corev1.PodPending {
		t.Fatalf("nothing written: base %s, want the cached status", got.Phase)
	}
	st.written, st.writtenOver = &corev1.PodStatus{Phase: corev1.PodRunning}, "10"
	if got := st.statusBase(pod); got.Phase != corev1.PodRunning {
		t.Fatalf("cache behind the last write: base %s, want what was written", got.Phase)
	}
	pod.ResourceVersion, pod.Status.Phase = "12", corev1.PodFailed
	if got := st.statusBase(pod); got.Phase != corev1.PodFailed {
		t.Fatalf("cache past the last write: base %s, want the cached status", got.Phase)
	}
}

// A condition someone else added after the base was read (the eviction
// API's DisruptionTarget) survives the kubelet's patch.
func TestStatusPatchKeepsOthersConditions(t *testing.T) {
	old := corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}
	updated := corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	patch, err := statusPatch("uid-1", old, updated)
	if err != nil {
		t.Fatal(err)
	}
	server := corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "uid-1"}, Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionFalse}, {Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
	}}}
	current, err := json.Marshal(server)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := strategicpatch.StrategicMergePatch(current, patch, corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(merged, &got); err != nil {
		t.Fatal(err)
	}
	if condStatus(got.Status, corev1.PodReady) != corev1.ConditionTrue || condStatus(got.Status, corev1.DisruptionTarget) != corev1.ConditionTrue {
		t.Fatalf("merged conditions %+v: want Ready True and DisruptionTarget kept", got.Status.Conditions)
	}
	if !strings.Contains(string(patch), `"uid":"uid-1"`) {
		t.Fatalf("patch %s has no UID precondition", patch)
	}
}
