// Package drain does what `kubectl cordon`, `uncordon` and `drain
// --ignore-daemonsets --delete-emptydir-data` do, through the API alone, for
// the chaos drills and the simulated cluster. (k8s.io/kubectl's drain
// package would bring kustomize into the product's module for ~100 lines.)
package drain

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// EvictionRetry is how long Drain waits before retrying an eviction that a
// PodDisruptionBudget refused (kubectl drain waits 5 s).
const EvictionRetry = 5 * time.Second

// Cordon marks the node unschedulable.
func Cordon(ctx context.Context, cs kubernetes.Interface, node string) error {
	return setUnschedulable(ctx, cs, node, true)
}

// Uncordon marks the node schedulable again.
func Uncordon(ctx context.Context, cs kubernetes.Interface, node string) error {
	return setUnschedulable(ctx, cs, node, false)
}

func setUnschedulable(ctx context.Context, cs kubernetes.Interface, node string, unschedulable bool) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"unschedulable": unschedulable}})
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		verb := "uncordoning"
		if unschedulable {
			verb = "cordoning"
		}
		return fmt.Errorf("%s %s: %w", verb, node, err)
	}
	return nil
}

// Drain cordons the node, evicts every pod on it through the Eviction API
// (which honours PodDisruptionBudgets: a refused eviction is retried every
// EvictionRetry) and waits until those pods are gone. It returns when the
// node is empty or ctx ends.
func Drain(ctx context.Context, cs kubernetes.Interface, node string, log logr.Logger) error {
	if err := Cordon(ctx, cs, node); err != nil {
		return err
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return fmt.Errorf("listing pods on %s: %w", node, err)
	}
	var evicted []corev1.Pod
	for _, p := range pods.Items {
		if Skipped(&p) {
			continue
		}
		if err := evict(ctx, cs, &p, log); err != nil {
			return err
		}
		evicted = append(evicted, p)
	}
	for _, p := range evicted {
		if err := waitGone(ctx, cs, &p); err != nil {
			return err
		}
	}
	return nil
}

// Skipped says whether a drain leaves the pod: DaemonSet pods and mirror
// pods stay, finished pods need no eviction.
func Skipped(p *corev1.Pod) bool {
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

func evict(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, log logr.Logger) error {
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
	for {
		err := cs.PolicyV1().Evictions(p.Namespace).Evict(ctx, ev)
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsTooManyRequests(err):
			log.Info("Eviction refused by a PodDisruptionBudget; retrying", "pod", p.Namespace+"/"+p.Name)
			select {
			case <-ctx.Done():
				return fmt.Errorf("evicting %s/%s: gave up (%w) while the API server kept refusing: %w", p.Namespace, p.Name, ctx.Err(), err)
			case <-time.After(EvictionRetry):
			}
		default:
			return fmt.Errorf("evicting %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
}

// waitGone polls until the pod (this UID) no longer exists.
func waitGone(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) error {
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		cur, err := cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return true, nil
		case err != nil:
			return false, nil // transient; the context bounds the wait
		}
		return cur.UID != p.UID, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s/%s to be gone: %w", p.Namespace, p.Name, err)
	}
	return nil
}
