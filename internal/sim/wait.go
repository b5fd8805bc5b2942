package sim

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// WaitForNode watches the node until cond holds.
func WaitForNode(ctx context.Context, cs kubernetes.Interface, name string, cond NodeCondition) error {
	lw := listWatch(fields.OneTermEqualSelector("metadata.name", name).String(),
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Nodes().List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Nodes().Watch(ctx, o)
		})
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Node{}, nil, func(e watch.Event) (bool, error) {
		n, ok := e.Object.(*corev1.Node)
		return ok && e.Type != watch.Deleted && cond(n), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for node %s: %w", name, err)
	}
	return nil
}

// WaitForPods watches the namespace's pods until cond holds for the set of
// pods matching selector (a label selector string) and returns that set.
func WaitForPods(ctx context.Context, cs kubernetes.Interface, namespace, selector string, cond func([]corev1.Pod) bool) ([]corev1.Pod, error) {
	store := map[string]corev1.Pod{}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return cs.CoreV1().Pods(namespace).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return cs.CoreV1().Pods(namespace).Watch(ctx, o)
		},
	}
	var result []corev1.Pod
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, func(s cache.Store) (bool, error) {
		for _, o := range s.List() {
			p := o.(*corev1.Pod)
			store[p.Name] = *p
		}
		result = podList(store)
		return cond(result), nil
	}, func(e watch.Event) (bool, error) {
		p, ok := e.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		if e.Type == watch.Deleted {
			delete(store, p.Name)
		} else {
			store[p.Name] = *p
		}
		result = podList(store)
		return cond(result), nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for pods %q in %s: %w", selector, namespace, err)
	}
	return result, nil
}

func podList(m map[string]corev1.Pod) []corev1.Pod {
	out := make([]corev1.Pod, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

func waitForServiceAccount(ctx context.Context, cs kubernetes.Interface, namespace string) error {
	lw := listWatch(fields.OneTermEqualSelector("metadata.name", "default").String(),
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().ServiceAccounts(namespace).List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().ServiceAccounts(namespace).Watch(ctx, o)
		})
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.ServiceAccount{}, func(s cache.Store) (bool, error) {
		return len(s.List()) > 0, nil
	}, func(e watch.Event) (bool, error) { return e.Type != watch.Deleted, nil })
	if err != nil {
		return fmt.Errorf("waiting for the default service account of %s: %w", namespace, err)
	}
	return nil
}

// WaitForServiceAccount waits until the namespace's default service
// account exists (the service-account controller creates it; pods are
// refused before).
func WaitForServiceAccount(ctx context.Context, cs kubernetes.Interface, namespace string) error {
	return waitForServiceAccount(ctx, cs, namespace)
}

func listWatch(fieldSelector string, list func(context.Context, metav1.ListOptions) (runtime.Object, error), w func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = fieldSelector
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fieldSelector
			return w(ctx, o)
		},
	}
}
