package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
)

// evictionRetry is how long Drain waits before retrying an eviction that a
// PodDisruptionBudget refused (kubectl drain waits 5 s).
const evictionRetry = 5 * time.Second

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
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"unschedulable": true}})
	if _, err := c.clientset.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning %s: %w", node, err)
	}
	return nil
}

// Uncordon marks the node schedulable again.
func (c *Cluster) Uncordon(ctx context.Context, node string) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"unschedulable": false}})
	if _, err := c.clientset.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("uncordoning %s: %w", node, err)
	}
	return nil
}

// Drain does what `kubectl drain --ignore-daemonsets` does: cordon, then
// evict every pod on the node through the Eviction API (which honours
// PodDisruptionBudgets: a refused eviction is retried every 5 s), and wait
// until the pods are gone. It returns when the node is empty or ctx ends.
func (c *Cluster) Drain(ctx context.Context, node string) error {
	if err := c.Cordon(ctx, node); err != nil {
		return err
	}
	pods, err := c.clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return fmt.Errorf("listing pods on %s: %w", node, err)
	}
	for _, p := range pods.Items {
		if skipDrain(&p) {
			continue
		}
		if err := c.evict(ctx, &p); err != nil {
			return err
		}
	}
	for _, p := range pods.Items {
		if skipDrain(&p) {
			continue
		}
		if err := c.waitGone(ctx, p.Namespace, p.Name, p.UID); err != nil {
			return err
		}
	}
	return nil
}

// skipDrain: DaemonSet pods and mirror pods stay, finished pods need no
// eviction.
func skipDrain(p *corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func (c *Cluster) evict(ctx context.Context, p *corev1.Pod) error {
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
	for {
		err := c.clientset.PolicyV1().Evictions(p.Namespace).Evict(ctx, ev)
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsTooManyRequests(err):
			// A PodDisruptionBudget says not now.
			c.log.Info("Eviction refused by a PodDisruptionBudget; retrying", "pod", p.Namespace+"/"+p.Name)
			select {
			case <-ctx.Done():
				return fmt.Errorf("evicting %s/%s: gave up (%w) while the API server kept refusing: %w", p.Namespace, p.Name, ctx.Err(), err)
			case <-time.After(evictionRetry):
			}
		default:
			return fmt.Errorf("evicting %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
}

func (c *Cluster) waitGone(ctx context.Context, namespace, name string, uid types.UID) error {
	_, err := WaitForPods(ctx, c.clientset, namespace, "", func(pods []corev1.Pod) bool {
		for _, p := range pods {
			if p.Name == name && p.UID == uid {
				return false
			}
		}
		return true
	})
	return err
}

// IsMultiAttachEvent matches the attach/detach controller's event on a pod
// whose RWO volume is attached to another node. Older releases said
// "Multi-Attach error for volume ..."; 1.37 says "Waiting for detach for
// volume ... Volume is already used by pod(s) ...".
func IsMultiAttachEvent(e *corev1.Event) bool {
	return e.Reason == "FailedAttachVolume" &&
		(strings.Contains(e.Message, "Multi-Attach") || strings.Contains(e.Message, "Waiting for detach"))
}
