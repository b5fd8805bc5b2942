package simirisha_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// TestUserEditsPutBack does to a running instance what a user of the
// reference article would: `kubectl scale` to 0 (its way to grow a volume)
// and to 2, and an IRIS container command without the agent. Each is put back by the
// operator with a DriftReverted Event and the instance is Ready again on a
// pod that runs the agent; at no moment is it Ready through a pod that does
// not, and W1 holds throughout.
func TestUserEditsPutBack(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, false)
	cl := r.b.client
	stop := watchReadyPods(ctx, t, cl, r.inst)

	depKey := client.ObjectKey{Namespace: ns, Name: resources.DeploymentName(r.inst)}
	dep := &appsv1.Deployment{}
	if err := cl.Get(ctx, depKey, dep); err != nil {
		t.Fatal(err)
	}
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dep.Name}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}
	if err := cl.SubResource("scale").Update(ctx, dep, client.WithSubResourceBody(scale), client.FieldOwner("kubectl")); err != nil {
		t.Fatal(err)
	}
	waitEvent(ctx, t, r.b.cluster.Clientset(), "DriftReverted")
	waitServing(ctx, t, cl, r.inst)

	// Two replicas: the second pod's agent would wait for the Lease; the
	// Deployment is put back to one at once.
	scale.Spec.Replicas = 2
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := cl.Get(ctx, depKey, dep); err != nil {
			return err
		}
		scale.ResourceVersion = ""
		return cl.SubResource("scale").Update(ctx, dep, client.WithSubResourceBody(scale), client.FieldOwner("kubectl"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func(ctx context.Context) bool {
		return cl.Get(ctx, depKey, dep) == nil && dep.Spec.Replicas != nil && *dep.Spec.Replicas == 1
	}); err != nil {
		t.Fatalf("replicas not put back to 1: %v", err)
	}
	waitServing(ctx, t, cl, r.inst)

	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := cl.Get(ctx, depKey, dep); err != nil {
			return err
		}
		dep.Spec.Template.Spec.Containers[0].Command = []string{"/iris-main"}
		return cl.Update(ctx, dep, client.FieldOwner("kubectl-edit"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, func(ctx context.Context) bool {
		return cl.Get(ctx, depKey, dep) == nil && dep.Spec.Template.Spec.Containers[0].Command[0] == resources.AgentBinary
	}); err != nil {
		t.Fatalf("the agent is not put back in the command: %v", err)
	}
	waitServing(ctx, t, cl, r.inst)

	for _, v := range stop() {
		t.Error(v)
	}
	if v := r.w1.Violations(); len(v) > 0 {
		t.Errorf("W1 violations: %+v", v)
	}
}

// watchReadyPods checks, every 100 ms until stopped, that whenever the
// instance says Ready its status.pod runs the agent. It returns what it saw
// otherwise.
func watchReadyPods(ctx context.Context, t *testing.T, cl client.Client, inst *v1alpha1.IrisInstance) (stop func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu   sync.Mutex
		seen []string
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			i := &v1alpha1.IrisInstance{}
			pod := &corev1.Pod{}
			if cl.Get(ctx, client.ObjectKeyFromObject(inst), i) == nil && meta.IsStatusConditionTrue(i.Status.Conditions, v1alpha1.ConditionReady) &&
				cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: i.Status.Pod}, pod) == nil && !resources.RunsAgent(pod, inst) {
				mu.Lock()
				seen = append(seen, fmt.Sprintf("Ready through pod %s, which does not run the agent: %q", pod.Name, pod.Spec.Containers[0].Command))
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// waitServing waits until the instance is Ready and Running on a pod that
// runs the agent.
func waitServing(ctx context.Context, t *testing.T, cl client.Client, inst *v1alpha1.IrisInstance) {
	t.Helper()
	waitInstance(ctx, t, cl, inst.Name, func(i *v1alpha1.IrisInstance) bool {
		pod := &corev1.Pod{}
		return i.Status.Phase == v1alpha1.PhaseRunning && meta.IsStatusConditionTrue(i.Status.Conditions, v1alpha1.ConditionReady) &&
			cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: i.Status.Pod}, pod) == nil && resources.Serving(pod, inst)
	})
}
