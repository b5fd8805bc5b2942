package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/testenv"
)

// TestGatherFromAnAPIServer runs `irisha status` with its real flags against
// a real kube-apiserver holding an instance's objects, and checks the facts
// it reads; then --watch, which must redraw when the instance changes and end
// when its context does.
func TestGatherFromAnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs kube-apiserver and etcd")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "status")
	if err != nil {
		t.Fatal(err)
	}
	inst := seed(t, ctx, env.Client, ns)

	var out bytes.Buffer
	cmd := NewCommand(&out)
	cmd.SetArgs([]string{"iris", "--kubeconfig", env.Kubeconfig, "-n", ns, "-o", "json"})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	var v View
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	checks := map[string]bool{
		"phase":                v.Instance.Phase == "Running",
		"one ready pod":        len(v.Pods) == 1 && v.Pods[0].Current && v.Pods[0].Ready,
		"the pod's zone":       len(v.Pods) == 1 && v.Pods[0].Node == "node-b" && v.Pods[0].Zone == "zone-b",
		"the StorageClass":     v.Volume.StorageClass == "irisha-status-test" && v.Volume.Provisioner == "driver.longhorn.io",
		"the volume's size":    v.Volume.Requested == "10Gi",
		"the Lease's holder":   v.Lease != nil && v.Lease.Holder == "iris-a_uid-a" && !v.Lease.Expired,
		"the instance's backs": len(v.Backups) == 2 && v.Backups[0].Name == "iris-newer" && v.Backups[1].Name == "iris-older",
		"the failover's steps": v.LastFailover != nil && v.LastFailover.State == FailoverCompleted && len(v.LastFailover.Steps) == 3,
		"the millisecond":      v.LastFailover != nil && v.LastFailover.Steps[1].AfterSeconds == 0.412,
		"the Events":           len(v.Events) == 2,
		"nothing unreadable":   len(v.Unreadable) == 0,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: wrong in\n%s", what, out.String())
		}
	}

	t.Run("watch", func(t *testing.T) { testWatch(t, ctx, env, ns, inst) })
	t.Run("missing instance", func(t *testing.T) {
		cmd := NewCommand(io.Discard)
		cmd.SetArgs([]string{"nosuch", "--kubeconfig", env.Kubeconfig, "-n", ns})
		if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "IrisInstance nosuch not found") {
			t.Errorf("got %v", err)
		}
	})
}

func testWatch(t *testing.T, ctx context.Context, env *testenv.Env, ns string, inst *v1alpha1.IrisInstance) {
	out := &syncBuffer{}
	cmd := NewCommand(out)
	cmd.SetArgs([]string{"iris", "--kubeconfig", env.Kubeconfig, "-n", ns, "-o", "json", "--watch", "--watch-for", "1m"})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(wctx) }()

	waitForFrame(t, out, func(v View) bool { return v.Instance.Phase == "Running" })
	inst.Status.Phase = v1alpha1.PhaseDegraded
	if err := env.Client.Status().Update(ctx, inst); err != nil {
		t.Fatal(err)
	}
	// Well before the 10 s resync: the watch itself redraws.
	start := time.Now()
	waitForFrame(t, out, func(v View) bool { return v.Instance.Phase == "Degraded" })
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("redrawn %s after the change", took)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the watch ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
}

// waitForFrame waits until a frame of the JSON stream satisfies ok.
func waitForFrame(t *testing.T, out *syncBuffer, ok func(View) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		dec := json.NewDecoder(strings.NewReader(out.String()))
		for {
			var v View
			if err := dec.Decode(&v); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("frame: %v", err)
				}
				break
			}
			if ok(v) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no such frame in:\n%s", out.String())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// seed creates an instance running in pod iris-a on node-b after one
// failover, with its PVC, StorageClass, Lease, backups and Events.
func seed(t *testing.T, ctx context.Context, c client.Client, ns string) *v1alpha1.IrisInstance {
	t.Helper()
	create := func(o client.Object) {
		t.Helper()
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "irisha-status-test"}, Provisioner: "driver.longhorn.io", AllowVolumeExpansion: ptr.To(true)}
	create(sc)
	t.Cleanup(func() { _ = c.Delete(context.Background(), sc) })
	nodeB := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b", Labels: map[string]string{corev1.LabelTopologyZone: "zone-b"}}}
	create(nodeB)
	t.Cleanup(func() { _ = c.Delete(context.Background(), nodeB) })

	inst := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris"},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:   "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage: v1alpha1.StorageSpec{ClassName: ptr.To(sc.Name), Size: resource.MustParse("10Gi")},
		},
	}
	create(inst)
	detected := time.Now().Add(-time.Minute).Truncate(time.Second).Add(318 * time.Millisecond)
	inst.Status = v1alpha1.IrisInstanceStatus{
		Phase: v1alpha1.PhaseRunning, Pod: "iris-a", Node: "node-b", PVC: "iris-data", Failovers: 1, Fencing: v1alpha1.FencingHealthy,
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "PodReady", Message: "IRIS is ready in pod iris-a on node node-b", LastTransitionTime: metav1.Now()}},
		LastFailover: &v1alpha1.FailoverRecord{
			Reason: "LeaseExpired", Node: "node-a", Pod: "iris-old", DetectedAt: metav1.NewMicroTime(detected),
			FencedAt: ptr.To(metav1.NewMicroTime(detected.Add(412 * time.Millisecond))), ReadyAt: ptr.To(metav1.NewMicroTime(detected.Add(9 * time.Second))), Seconds: "9.0",
		},
	}
	if err := c.Status().Update(ctx, inst); err != nil {
		t.Fatal(err)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris-a", Labels: map[string]string{"irisha.dev/instance": "iris"}},
		Spec:       corev1.PodSpec{NodeName: "node-b", Containers: []corev1.Container{{Name: "iris", Image: inst.Spec.Image}}},
	}
	create(pod)
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	create(&corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris-data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To(sc.Name), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	})
	create(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris-fencing"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("iris-a_uid-a"), LeaseDurationSeconds: ptr.To[int32](10),
			RenewTime: ptr.To(metav1.NewMicroTime(time.Now())), AcquireTime: ptr.To(metav1.NewMicroTime(detected)),
		},
	})
	for _, b := range []struct{ name, instance string }{{"iris-older", "iris"}, {"other", "other"}, {"iris-newer", "iris"}} {
		create(&v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: b.name}, Spec: v1alpha1.IrisBackupSpec{InstanceName: b.instance}})
		time.Sleep(1100 * time.Millisecond) // creationTimestamp has whole seconds: one apart
	}
	for _, e := range []struct{ kind, name, reason string }{{"IrisInstance", "iris", "FailoverCompleted"}, {"Pod", "iris-a", "Started"}, {"Pod", "someone-else", "Started"}} {
		create(&corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: ns, GenerateName: "status-test-"},
			InvolvedObject: corev1.ObjectReference{Kind: e.kind, Namespace: ns, Name: e.name},
			Reason:         e.reason, Message: e.reason, Type: corev1.EventTypeNormal, LastTimestamp: metav1.Now(), Count: 1,
		})
	}
	return inst
}
