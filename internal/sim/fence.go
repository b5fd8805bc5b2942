package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// FenceAgentOptions configure StartFenceAgent.
type FenceAgentOptions struct {
	// Annotation is set to "true" on a Node once it is powered off: the
	// confirmation an operator waits for (irisha.dev/node-fenced).
	Annotation string
	// After is how long a node must have been NotReady before it is
	// powered off (a node health checker's unhealthy duration).
	After time.Duration
	// Poll is how often the nodes are read (default 250 ms).
	Poll time.Duration
}

// StartFenceAgent plays the cluster's power fencing (a BMC or cloud API
// driven by a node health checker, as medik8s' NodeHealthCheck drives a
// fence agent): a node NotReady for o.After is powered off (Kill: a frozen
// or partitioned machine stops for good, and what it had in flight never
// lands), and only then annotated, so the annotation is never a promise.
// It runs until ctx ends; a node that failed to power off is retried, and
// each node is fenced once (the annotation stays if the node is brought
// back, as operators treat it on a Ready node as stale).
func (c *Cluster) StartFenceAgent(ctx context.Context, o FenceAgentOptions) {
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	log := c.log.WithName("fence-agent")
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		nodes, err := c.clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		for i := range nodes.Items {
			node := &nodes.Items[i]
			n := c.Node(node.Name)
			if n == nil || node.Annotations[o.Annotation] == "true" || !notReadyFor(node, o.After) {
				continue
			}
			if err := n.Kill(); err != nil {
				log.Error(err, "Powering off", "node", n.Name)
				continue
			}
			if err := c.annotateNode(ctx, n.Name, o.Annotation, "true"); err != nil {
				log.Error(err, "Confirming the power-off", "node", n.Name)
				continue
			}
			log.Info("Node powered off and confirmed", "node", n.Name)
		}
	}, o.Poll)
}

// notReadyFor: the node's Ready condition has not been True for at least d.
func notReadyFor(n *corev1.Node, d time.Duration) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status != corev1.ConditionTrue && time.Since(c.LastTransitionTime.Time) >= d
		}
	}
	return false
}

func (c *Cluster) annotateNode(ctx context.Context, node, key, value string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	if _, err := c.clientset.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotating node %s: %w", node, err)
	}
	return nil
}
