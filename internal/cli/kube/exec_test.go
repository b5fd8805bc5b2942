package kube_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/chaos"
	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/testenv"
)

// A real cluster is the chaos drills' Execer through this.
var _ chaos.Execer = (*kube.Execer)(nil)

// TestExecAgainstAnAPIServer: with a real kube-apiserver (and no kubelet),
// exec into a pod that does not exist is a NotFound naming it; into a pod
// no node runs, the API server's refusal comes back through the WebSocket
// upgrade and the SPDY fallback; into a finished pod, kubectl's refusal.
func TestExecAgainstAnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs kube-apiserver and etcd")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "exec")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kube.NewExecer(env.Config)
	if err != nil {
		t.Fatal(err)
	}

	_, err = e.Exec(ctx, ns, "no-such-pod", "iris", nil, "iris", "qlist", "IRIS")
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `pods "no-such-pod" not found`) {
		t.Errorf("exec into a missing pod: %v, want NotFound naming it", err)
	}
	t.Logf("missing pod: %v", err)

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unscheduled"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "iris", Image: "iris:test"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	_, err = e.Exec(ctx, ns, pod.Name, "iris", []byte("halt\n"), "iris", "session", "IRIS", "-U", "USER")
	if err == nil || !strings.Contains(err.Error(), "pod unscheduled does not have a host assigned") {
		t.Errorf("exec into an unscheduled pod: %v, want the API server's refusal", err)
	}
	t.Logf("unscheduled pod: %v", err)

	pod.Status.Phase = corev1.PodSucceeded
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	_, err = e.Exec(ctx, ns, pod.Name, "", nil, "iris", "qlist", "IRIS")
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "completed pod; current phase is Succeeded") {
		t.Errorf("exec into a finished pod: %v, want BadRequest", err)
	}
	t.Logf("finished pod: %v", err)
}
