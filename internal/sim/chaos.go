package sim

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/drain"
)

// DeletePod deletes a pod the way `kubectl delete pod` does: gracefully,
// with the pod's own grace period.
func (c *Cluster) DeletePod(ctx context.Context, namespace, name string) error {
	if err := c.clientset.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("deleting pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// CrashContainer makes a container of a running pod exit abnormally (its
// process is SIGKILLed; a virtual container exits with 137). The node's
// kubelet restarts it with the crash back-off: the first restart is
// immediate, then 10 s, 20 s, 40 s ... 300 s with default timings.
func (c *Cluster) CrashContainer(ctx context.Context, namespace, pod, container string) error {
	p, err := c.clientset.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading pod %s/%s: %w", namespace, pod, err)
	}
	if container == "" && len(p.Spec.Containers) > 0 {
		container = p.Spec.Containers[0].Name
	}
	n := c.Node(p.Spec.NodeName)
	if n == nil {
		return fmt.Errorf("pod %s/%s is not on a simulated node", namespace, pod)
	}
	n.mu.Lock()
	k, state := n.kubelet, n.state
	n.mu.Unlock()
	if state != NodeRunning || k == nil {
		return fmt.Errorf("node %s is %s", n.Name, state)
	}
	return k.CrashContainer(namespace, pod, container)
}

// Cordon marks the node unschedulable.
func (c *Cluster) Cordon(ctx context.Context, node string) error {
	return drain.Cordon(ctx, c.clientset, node)
}

// Uncordon marks the node schedulable again.
func (c *Cluster) Uncordon(ctx context.Context, node string) error {
	return drain.Uncordon(ctx, c.clientset, node)
}

// Drain does what `kubectl drain --ignore-daemonsets` does (drain.Drain):
// cordon, evict every pod through the Eviction API, wait until they are
// gone.
func (c *Cluster) Drain(ctx context.Context, node string) error {
	return drain.Drain(ctx, c.clientset, node, c.log)
}

// IsMultiAttachEvent matches the attach/detach controller's event on a pod
// whose RWO volume is attached to another node. Older releases said
// "Multi-Attach error for volume ..."; 1.37 says "Waiting for detach for
// volume ... Volume is already used by pod(s) ...".
func IsMultiAttachEvent(e *corev1.Event) bool {
	return e.Reason == "FailedAttachVolume" &&
		(strings.Contains(e.Message, "Multi-Attach") || strings.Contains(e.Message, "Waiting for detach"))
}
