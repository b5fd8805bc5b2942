package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/agent/lease"
	"github.com/irisha/irisha/internal/testenv"
)

// TestFencedPodNeverTakesTheLeaseBack: once the operator has fenced a pod
// (cleared the holder and listed the pod's identity), that pod's agent
// refuses the free Lease at once, while a replacement takes it.
func TestFencedPodNeverTakesTheLeaseBack(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a kube-apiserver")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ns, err := env.Namespace(ctx, "fenced")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "iris-fencing", Annotations: map[string]string{v1alpha1.AnnotationFencedHolders: "iris-0_uid-0,iris-a_uid-a"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acquire := func(identity string) error {
		l, err := lease.New(lease.Config{Namespace: ns, Name: "iris-fencing", Identity: identity, Timing: lease.DefaultTiming(5 * time.Second)},
			cs.CoordinationV1(), testr.New(t))
		if err != nil {
			t.Fatal(err)
		}
		return l.Acquire(ctx)
	}
	if err := acquire("iris-a_uid-a"); !errors.Is(err, lease.ErrFenced) {
		t.Fatalf("the fenced pod's agent: Acquire = %v, want ErrFenced", err)
	}
	if err := acquire("iris-b_uid-b"); err != nil {
		t.Fatalf("the replacement's agent: %v", err)
	}
}
