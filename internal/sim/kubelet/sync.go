package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/tools/cache"
)

func labelsEverything() labels.Selector { return labels.Everything() }

// syncPod moves one pod one step towards what the kubelet would make of it
// and returns when to look again (0: on the next event).
func (k *Kubelet) syncPod(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := k.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, k.forget(ctx, key)
	}
	if err != nil {
		return 0, fmt.Errorf("reading pod %s: %w", key, err)
	}
	k.mu.Lock()
	st := k.state[key]
	if st != nil && st.uid != pod.UID {
		// Same name, new pod (StatefulSet-style): the old one is gone.
		k.mu.Unlock()
		if err := k.forget(ctx, key); err != nil {
			return 0, err
		}
		k.mu.Lock()
		st = nil
	}
	if st == nil {
		st = newPodState(pod)
		k.state[key] = st
	}
	k.mu.Unlock()

	if pod.DeletionTimestamp != nil {
		return 0, k.terminate(ctx, key, pod, st)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, nil
	}
	if !st.mounted {
		ready, err := k.mountVolumes(ctx, key, pod, st)
		if err != nil || !ready {
			return 0, err
		}
	}
	refresh, err := k.syncProjected(ctx, pod, st)
	if err != nil {
		return 0, err
	}
	next, err := k.runContainers(ctx, key, pod, st)
	if err != nil {
		return 0, err
	}
	if refresh > 0 && (next == 0 || refresh < next) {
		next = refresh
	}
	return next, k.writeStatus(ctx, pod, st)
}

// mountVolumes waits for attachment, reports the volumes in use, then
// mounts them. It writes the ContainerCreating status while waiting.
func (k *Kubelet) mountVolumes(ctx context.Context, key string, pod *corev1.Pod, st *podState) (bool, error) {
	vols, reason, err := k.lis.resolveVolumes(pod)
	if err != nil {
		return false, err
	}
	if reason == "" {
		node, _ := k.nodes.Get(k.cfg.NodeName)
		if missing := unattached(vols, node); len(missing) > 0 {
			reason = fmt.Sprintf("waiting for volumes [%s] to be attached to node %s", strings.Join(missing, " "), k.cfg.NodeName)
		}
	}
	if reason != "" {
		k.mu.Lock()
		for _, c := range st.containers {
			if !c.running {
				c.waiting, c.waitingMsg = ReasonContainerCreating, reason
			}
		}
		k.mu.Unlock()
		return false, k.writeStatus(ctx, pod, st)
	}
	// Report the volumes in use before mounting, as the kubelet's volume
	// manager does: from then on the attach/detach controller will not
	// detach them (short of its 6-minute force detach on an unhealthy node).
	k.mu.Lock()
	st.vols, st.inUse = vols, true
	k.mu.Unlock()
	if err := k.syncNodeVolumes(ctx); err != nil {
		return false, err
	}
	k.mu.Lock()
	st.mounted = true
	for _, c := range st.containers {
		if !c.running && c.waiting == ReasonContainerCreating {
			c.waitingMsg = ""
		}
	}
	k.mu.Unlock()
	return true, nil
}

// runContainers starts containers that are due and returns the time until
// the next back-off expires.
func (k *Kubelet) runContainers(ctx context.Context, key string, pod *corev1.Pod, st *podState) (time.Duration, error) {
	var next time.Duration
	now := time.Now()
	k.mu.Lock()
	if st.startTime.IsZero() {
		st.startTime = now
		st.podIP = pod.Status.PodIP
		if st.podIP == "" {
			st.podIP = k.freeIPLocked()
		}
	}
	var due []*container
	for _, c := range st.containers {
		if c.running || c.terminated != nil {
			continue
		}
		if c.last != nil && !restartAllowed(pod.Spec.RestartPolicy, c.last.ExitCode) {
			c.terminated, c.waiting = c.last, ""
			continue
		}
		if wait := c.nextStart.Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		due = append(due, c)
	}
	k.mu.Unlock()
	for _, c := range due {
		if err := k.startContainer(ctx, key, pod, st, c); err != nil {
			return 0, err
		}
	}
	return next, nil
}

func restartAllowed(policy corev1.RestartPolicy, code int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	default:
		return true
	}
}

// terminate finishes a graceful deletion the kubelet's way: stop the
// containers, report them terminated, unmount (drop volumesInUse), then
// delete the pod object with grace 0.
func (k *Kubelet) terminate(ctx context.Context, key string, pod *corev1.Pod, st *podState) error {
	grace := 30 * time.Second
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	k.mu.Lock()
	first := !st.stopping
	if first {
		st.stopping = true
		k.stopContainers(st, grace)
	}
	stopped := st.allStopped()
	k.mu.Unlock()
	if first {
		for _, c := range pod.Spec.Containers {
			k.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.Name)
		}
	}
	if !stopped {
		return nil // the exit watchers enqueue the pod again
	}
	if err := k.writeStatus(ctx, pod, st); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	k.mu.Lock()
	st.inUse, st.mounted = false, false
	k.mu.Unlock()
	if err := k.syncNodeVolumes(ctx); err != nil {
		return err
	}
	uid := pod.UID
	err := k.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s: %w", key, err)
	}
	return nil
}

// forget cleans up after a pod that is gone from the API (deleted with
// grace 0 by someone else, or finished): kill what runs, unmount.
func (k *Kubelet) forget(ctx context.Context, key string) error {
	k.mu.Lock()
	st := k.state[key]
	k.mu.Unlock()
	if st == nil {
		return nil
	}
	k.mu.Lock()
	st.stopping = true
	var procs []*container
	for _, c := range st.containers {
		if c.proc != nil {
			procs = append(procs, c)
		}
	}
	k.mu.Unlock()
	for _, c := range procs {
		// The pod object is gone: no grace left to honour.
		_ = c.proc.Kill()
	}
	k.mu.Lock()
	delete(k.state, key)
	k.mu.Unlock()
	if k.cfg.StateDir != "" {
		// The pod's volumes go with it, its token among them.
		if err := os.RemoveAll(filepath.Join(k.cfg.StateDir, "pods", string(st.uid))); err != nil {
			return fmt.Errorf("removing the files of pod %s: %w", key, err)
		}
	}
	return k.syncNodeVolumes(ctx)
}

// writeStatus writes the pod's status if it differs from the stored one,
// as a strategic merge patch with the pod's UID as precondition, the way
// the real kubelet does (conditions others set, like DisruptionTarget, are
// merged by type, not overwritten).
func (k *Kubelet) writeStatus(ctx context.Context, pod *corev1.Pod, st *podState) error {
	k.mu.Lock()
	base := st.statusBase(pod)
	v := podView{HostIP: k.cfg.NodeIP, PodIP: st.podIP, StartTime: st.startTime, VolumesReady: st.mounted}
	if st.stopping {
		v.VolumesReady = false
	}
	for _, c := range st.containers {
		v.Containers = append(v.Containers, containerView{
			Name: c.name, Image: c.image, ID: c.id, Running: c.running, Ready: c.ready, Started: c.started, StartedAt: c.startedAt,
			RestartCount: c.restartCount, Waiting: c.waiting, WaitingMessage: c.waitingMsg,
			Terminated: c.terminated, Last: c.last,
		})
	}
	k.mu.Unlock()
	if v.PodIP == "" {
		v.HostIP = ""
	}
	if !st.stopping && allTerminated(v.Containers) {
		v.Phase = corev1.PodSucceeded
		for _, c := range v.Containers {
			if c.Terminated.ExitCode != 0 {
				v.Phase = corev1.PodFailed
			}
		}
	}
	status := buildStatus(base, v, time.Now())
	if equality.Semantic.DeepEqual(status, base) {
		return nil
	}
	patch, err := statusPatch(pod.UID, base, status)
	if err != nil {
		return fmt.Errorf("building the status patch of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	updated, err := k.cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("updating the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	k.mu.Lock()
	st.written, st.writtenOver = &updated.Status, pod.ResourceVersion
	k.mu.Unlock()
	return nil
}

// statusPatch is the strategic merge patch from old to new status, with the
// UID in it so that it fails on a pod recreated under the same name (what
// the kubelet's status manager sends).
func statusPatch(uid types.UID, old, new corev1.PodStatus) ([]byte, error) {
	from, err := json.Marshal(corev1.Pod{Status: old})
	if err != nil {
		return nil, err
	}
	to, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: new})
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(from, to, corev1.Pod{})
}

func allTerminated(cs []containerView) bool {
	for _, c := range cs {
		if c.Terminated == nil {
			return false
		}
	}
	return len(cs) > 0
}

// syncNodeVolumes writes node.status.volumesInUse = the volumes of every
// pod that reported them in use, if it changed.
func (k *Kubelet) syncNodeVolumes(ctx context.Context) error {
	k.nodeMu.Lock()
	defer k.nodeMu.Unlock()
	k.mu.Lock()
	want := []corev1.UniqueVolumeName{}
	for _, st := range k.state {
		if !st.inUse {
			continue
		}
		for _, v := range st.vols {
			if v.UniqueName != "" && !slices.Contains(want, v.UniqueName) {
				want = append(want, v.UniqueName)
			}
		}
	}
	k.mu.Unlock()
	slices.Sort(want)
	if node, err := k.nodes.Get(k.cfg.NodeName); err == nil && slices.Equal(node.Status.VolumesInUse, want) && slices.Equal(k.reported, want) {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"volumesInUse": want}})
	if err != nil {
		return fmt.Errorf("encoding the volumesInUse patch: %w", err)
	}
	if _, err := k.cs.CoreV1().Nodes().Patch(ctx, k.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("reporting volumesInUse of node %s: %w", k.cfg.NodeName, err)
	}
	k.reported = want
	return nil
}

// freeIPLocked is the next pod IP no pod of this node holds: a restarted
// node's kubelet counts from the start again while the pods it finds keep
// the IPs they had.
func (k *Kubelet) freeIPLocked() string {
	inUse := map[string]bool{}
	for _, st := range k.state {
		inUse[st.podIP] = true
	}
	if pods, err := k.pods.List(labels.Everything()); err == nil {
		for _, p := range pods {
			if p.Spec.NodeName == k.cfg.NodeName {
				inUse[p.Status.PodIP] = true
			}
		}
	}
	for range 250 {
		k.ipSeq++
		ip := fmt.Sprintf("%s%d", k.cfg.PodIPPrefix, k.ipSeq%250+2)
		if !inUse[ip] {
			return ip
		}
	}
	k.ipSeq++
	return fmt.Sprintf("%s%d", k.cfg.PodIPPrefix, k.ipSeq%250+2) // 250 pods on one node: reuse
}
