package instance_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/instance"
	"github.com/irisha/irisha/internal/resources"
)

const timeout = 30 * time.Second

// applyExample creates every object of an examples/ file in namespace ns and
// returns the IrisInstance.
func applyExample(t *testing.T, ctx context.Context, file, ns string) *v1alpha1.IrisInstance {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var inst *v1alpha1.IrisInstance
	for {
		var u map[string]any
		if err := dec.Decode(&u); err != nil {
			break
		}
		if u == nil {
			continue
		}
		obj, err := decodeTyped(u)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		obj.SetNamespace(ns)
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("%s: creating %T %s: %v", file, obj, obj.GetName(), err)
		}
		if i, ok := obj.(*v1alpha1.IrisInstance); ok {
			inst = i
		}
	}
	if inst == nil {
		t.Fatalf("%s holds no IrisInstance", file)
	}
	return inst
}

func decodeTyped(u map[string]any) (client.Object, error) {
	raw, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	obj, _, err := serializer.NewCodecFactory(env.Scheme).UniversalDeserializer().Decode(raw, nil, nil)
	if err != nil {
		return nil, err
	}
	return obj.(client.Object), nil
}

func mustUnstructured(t *testing.T, raw []byte) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	return u
}

// eventually polls cond until it holds or the timeout expires.
func eventually(t *testing.T, ctx context.Context, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func get(ctx context.Context, ns, name string, obj client.Object) error {
	return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
}

// updateSpec re-reads the instance and applies mutate until the write is not
// refused for a stale resourceVersion: the operator writes status alongside
// the test, so an update from an old read may conflict.
func updateSpec(ctx context.Context, ns, name string, mutate func(*v1alpha1.IrisInstance)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		inst := &v1alpha1.IrisInstance{}
		if err := get(ctx, ns, name, inst); err != nil {
			return err
		}
		mutate(inst)
		return env.Client.Update(ctx, inst)
	})
}

func exists(ns, name string, obj client.Object) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		err := get(ctx, ns, name, obj)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
}

func condition(ctx context.Context, ns, name, typ string) *metav1.Condition {
	inst := &v1alpha1.IrisInstance{}
	if err := get(ctx, ns, name, inst); err != nil {
		return nil
	}
	return meta.FindStatusCondition(inst.Status.Conditions, typ)
}

func TestExamplesDeployEverything(t *testing.T) {
	for _, file := range []string{"minimal.yaml", "reference.yaml"} {
		t.Run(file, func(t *testing.T) {
			ctx := t.Context()
			ns, err := env.Namespace(ctx, "examples")
			if err != nil {
				t.Fatal(err)
			}
			inst := applyExample(t, ctx, file, ns)

			dep := &appsv1.Deployment{}
			eventually(t, ctx, "the Deployment", exists(ns, inst.Name, dep))
			for _, o := range []struct {
				name string
				obj  client.Object
			}{
				{inst.Name + "-data", &corev1.PersistentVolumeClaim{}},
				{inst.Name + "-merge", &corev1.Secret{}},
				{inst.Name, &corev1.ServiceAccount{}},
				{inst.Name, &corev1.Service{}},
				{inst.Name + "-fencing", &coordinationv1.Lease{}},
				{inst.Name + "-agent", &rbacv1.Role{}},
				{inst.Name + "-agent", &rbacv1.RoleBinding{}},
			} {
				eventually(t, ctx, o.name, exists(ns, o.name, o.obj))
			}

			// The rules survive the API server's defaulting.
			pod := dep.Spec.Template.Spec
			c := pod.Containers[0]
			if !strings.HasPrefix(envValue(c, "ISC_DATA_DIRECTORY"), resources.DataMountPath+"/") {
				t.Errorf("ISC_DATA_DIRECTORY = %q, want a subdirectory of %s", envValue(c, "ISC_DATA_DIRECTORY"), resources.DataMountPath)
			}
			if ptr.Deref(pod.SecurityContext.FSGroup, 0) != resources.IrisGID || ptr.Deref(pod.SecurityContext.FSGroupChangePolicy, "") != corev1.FSGroupChangeOnRootMismatch {
				t.Errorf("pod security context = %+v", pod.SecurityContext)
			}
			if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || ptr.Deref(dep.Spec.Replicas, 0) != 1 {
				t.Errorf("deployment strategy %s replicas %v", dep.Spec.Strategy.Type, dep.Spec.Replicas)
			}
			if !metav1.IsControlledBy(dep, inst) {
				t.Errorf("the Deployment is not controlled by the instance")
			}
			pvc := &corev1.PersistentVolumeClaim{}
			if err := get(ctx, ns, inst.Name+"-data", pvc); err != nil {
				t.Fatal(err)
			}
			if len(pvc.OwnerReferences) != 0 {
				t.Errorf("under the Retain policy the PVC must not be owned: %+v", pvc.OwnerReferences)
			}

			// The real ReplicaSet controller makes a pod; no scheduler runs
			// here, so it stays Pending and the instance is not Ready.
			eventually(t, ctx, "conditions reporting the pending pod", func(ctx context.Context) (bool, error) {
				ready := condition(ctx, ns, inst.Name, v1alpha1.ConditionReady)
				degraded := condition(ctx, ns, inst.Name, v1alpha1.ConditionDegraded)
				progressing := condition(ctx, ns, inst.Name, v1alpha1.ConditionProgressing)
				return ready != nil && ready.Status == metav1.ConditionFalse && ready.Reason == instance.ReasonPodStarting &&
					degraded != nil && degraded.Status == metav1.ConditionFalse &&
					progressing != nil && progressing.Status == metav1.ConditionTrue, nil
			})
			got := &v1alpha1.IrisInstance{}
			if err := get(ctx, ns, inst.Name, got); err != nil {
				t.Fatal(err)
			}
			if got.Status.Pod == "" || got.Status.PVC != inst.Name+"-data" || got.Status.Phase != v1alpha1.PhasePending || got.Status.ObservedGeneration != got.Generation {
				t.Errorf("status = %+v", got.Status)
			}
			if v, ok, err := readyMetric(ns, inst.Name); err != nil || !ok || v != 0 {
				t.Errorf("irisha_instance_ready = %v (exported %v, %v), want 0 for an instance that is not Ready", v, ok, err)
			}
		})
	}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func newInstance(ns, name string) *v1alpha1.IrisInstance {
	return &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:   "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage: v1alpha1.StorageSpec{ClassName: ptr.To("longhorn"), Size: resource.MustParse("10Gi")},
		},
	}
}

// TestAPIServerRejectsBadSpecs proves the CRD's OpenAPI and CEL rules run in
// the real API server.
func TestAPIServerRejectsBadSpecs(t *testing.T) {
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "validation")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		mutate     func(*v1alpha1.IrisInstance)
	}{
		{"unknown failover mode", "failover.mode", func(i *v1alpha1.IrisInstance) { i.Spec.Failover.Mode = "Mirror" }},
		{"zero size", "greater than zero", func(i *v1alpha1.IrisInstance) { i.Spec.Storage.Size = resource.MustParse("0") }},
		{"unknown port", "service.ports", func(i *v1alpha1.IrisInstance) { i.Spec.Service.Ports = []v1alpha1.IrisPort{"ftp"} }},
		{"ShutdownTimeout below IRIS's minimum", "shutdownTimeoutSeconds", func(i *v1alpha1.IrisInstance) { i.Spec.ShutdownTimeoutSeconds = 60 }},
		{"data directory escaping the volume", "dataSubdirectory", func(i *v1alpha1.IrisInstance) { i.Spec.Storage.DataSubdirectory = "../etc" }},
		{"both config sources", "exactly one", func(i *v1alpha1.IrisInstance) {
			i.Spec.Config = &v1alpha1.ConfigSpec{MergeText: ptr.To("[config]\n"), ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "x"}}
		}},
		{"lease too short to renew", "leaseDurationSeconds", func(i *v1alpha1.IrisInstance) { i.Spec.Failover.LeaseDurationSeconds = 1 }},
		{"restore from two sources", "exactly one", func(i *v1alpha1.IrisInstance) {
			i.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupName: "b", VolumeSnapshotName: "s"}
		}},
		{"restore from nothing", "exactly one", func(i *v1alpha1.IrisInstance) { i.Spec.RestoreFrom = &v1alpha1.RestoreSource{} }},
		{"autoGrow threshold too low", "thresholdPercent", func(i *v1alpha1.IrisInstance) {
			i.Spec.Storage.AutoGrow = &v1alpha1.AutoGrowSpec{ThresholdPercent: 10, IncreasePercent: 20, Limit: resource.MustParse("20Gi")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := newInstance(ns, "bad")
			tc.mutate(inst)
			err := env.Client.Create(ctx, inst)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create error = %v, want Invalid mentioning %q", err, tc.want)
			}
		})
	}

	// Quantities the API server cannot parse never reach the schema.
	raw := []byte(`{"apiVersion":"irisha.dev/v1alpha1","kind":"IrisInstance","metadata":{"name":"badsize","namespace":"` + ns +
		`"},"spec":{"image":"x","storage":{"size":"ten gigs"}}}`)
	if err := env.Client.Create(ctx, mustUnstructured(t, raw)); err == nil || !strings.Contains(err.Error(), "size") {
		t.Errorf("a malformed size was accepted: %v", err)
	}

	inst := newInstance(ns, "growing")
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		mutate     func(*v1alpha1.IrisInstance)
	}{
		{"shrink", "must not shrink", func(i *v1alpha1.IrisInstance) { i.Spec.Storage.Size = resource.MustParse("5Gi") }},
		{"new storage class", "immutable", func(i *v1alpha1.IrisInstance) { i.Spec.Storage.ClassName = ptr.To("local-disk") }},
		{"new data directory", "immutable", func(i *v1alpha1.IrisInstance) { i.Spec.Storage.DataSubdirectory = "OTHER" }},
		{"restore added later", "restoreFrom", func(i *v1alpha1.IrisInstance) { i.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupName: "b"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := updateSpec(ctx, ns, inst.Name, tc.mutate)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("update error = %v, want Invalid mentioning %q", err, tc.want)
			}
		})
	}
	if err := updateSpec(ctx, ns, inst.Name, func(i *v1alpha1.IrisInstance) { i.Spec.Storage.Size = resource.MustParse("20Gi") }); err != nil {
		t.Errorf("growing the volume must be allowed: %v", err)
	}

	restored := newInstance(ns, "restored")
	restored.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupName: "nightly"}
	if err := env.Client.Create(ctx, restored); err != nil {
		t.Fatal(err)
	}
	for _, mutate := range []func(*v1alpha1.IrisInstance){
		func(i *v1alpha1.IrisInstance) { i.Spec.RestoreFrom.BackupName = "other" },
		func(i *v1alpha1.IrisInstance) { i.Spec.RestoreFrom = nil },
	} {
		if err := updateSpec(ctx, ns, restored.Name, mutate); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "restoreFrom") {
			t.Errorf("changing restoreFrom: %v, want Invalid naming restoreFrom", err)
		}
	}
}

// TestBrokenConfigTouchesNothing: a CPF merge that does not parse makes the
// instance Degraded, names the line, and leaves every deployed object as it was.
func TestBrokenConfigTouchesNothing(t *testing.T) {
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "broken-config")
	if err != nil {
		t.Fatal(err)
	}
	inst := newInstance(ns, "iris")
	inst.Spec.Config = &v1alpha1.ConfigSpec{MergeText: ptr.To("[config]\nglobals=0,0,800,0,0,0\n")}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	eventually(t, ctx, "the Deployment", exists(ns, "iris", dep))
	secret := &corev1.Secret{}
	eventually(t, ctx, "the merge Secret", exists(ns, "iris-merge", secret))

	const newImage = "containers.intersystems.com/intersystems/iris-community:2026.1"
	if err := updateSpec(ctx, ns, "iris", func(i *v1alpha1.IrisInstance) {
		i.Spec.Config.MergeText = ptr.To("[config]\nglobals=0,0,800,0,0,0\nthis line is broken\n")
		i.Spec.Image = newImage
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "Degraded=True InvalidConfig", func(ctx context.Context) (bool, error) {
		c := condition(ctx, ns, "iris", v1alpha1.ConditionDegraded)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == instance.ReasonInvalidConfig, nil
	})
	c := condition(ctx, ns, "iris", v1alpha1.ConditionDegraded)
	if !strings.Contains(c.Message, "line 3") {
		t.Errorf("Degraded message %q does not name line 3", c.Message)
	}
	after := &appsv1.Deployment{}
	if err := get(ctx, ns, "iris", after); err != nil {
		t.Fatal(err)
	}
	// The Deployment controller writes its status, so compare the spec's
	// generation, not the resourceVersion.
	if after.Generation != dep.Generation || after.Spec.Template.Spec.Containers[0].Image != dep.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("the Deployment changed although the spec was rejected (image %s)", after.Spec.Template.Spec.Containers[0].Image)
	}
	secretAfter := &corev1.Secret{}
	if err := get(ctx, ns, "iris-merge", secretAfter); err != nil {
		t.Fatal(err)
	}
	if secretAfter.ResourceVersion != secret.ResourceVersion {
		t.Errorf("the merge Secret changed although the spec was rejected")
	}

	// Fixing the text applies both changes and clears Degraded.
	if err := updateSpec(ctx, ns, "iris", func(i *v1alpha1.IrisInstance) {
		i.Spec.Config.MergeText = ptr.To("[config]\nglobals=0,0,900,0,0,0\n")
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the fixed spec applied", func(ctx context.Context) (bool, error) {
		c := condition(ctx, ns, "iris", v1alpha1.ConditionDegraded)
		d := &appsv1.Deployment{}
		if err := get(ctx, ns, "iris", d); err != nil {
			return false, err
		}
		return c != nil && c.Status == metav1.ConditionFalse && d.Spec.Template.Spec.Containers[0].Image == newImage, nil
	})
}

// TestSteadyStateMakesNoWrites reconciles an unchanged instance and counts the
// writes that reach the API server: there must be none.
func TestSteadyStateMakesNoWrites(t *testing.T) {
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "no-op")
	if err != nil {
		t.Fatal(err)
	}
	inst := newInstance(ns, "iris")
	inst.Spec.Service.Type = corev1.ServiceTypeLoadBalancer
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the Service", exists(ns, "iris", &corev1.Service{}))

	counter := &writeCounter{}
	direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	r := &instance.Reconciler{Client: counter.client(direct), Scheme: env.Scheme, Recorder: recorder, Clock: clock.RealClock{}, AgentImage: "ghcr.io/irisha/irisha:test"}
	req := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "iris"}}
	// The first pass may still have work (the pod list can move on while
	// the manager's own reconcile runs); the second must have none.
	reconcileUntilNoConflict(t, ctx, r, req)
	counter.n.Store(0)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := counter.n.Load(); n != 0 {
		t.Errorf("a reconcile of an unchanged instance made %d writes, want 0", n)
	}

	// The counter does see writes that go through the reconciler's client.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}}
	if err := r.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("the counter saw %d writes for one create", n)
	}
}

// TestUnboundVolumeIsGrownOnlyOnceBound: Kubernetes refuses to resize an
// unbound claim (no volume is provisioned here), so a grown spec must wait
// without errors and without changing the claim.
func TestUnboundVolumeIsGrownOnlyOnceBound(t *testing.T) {
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "grow")
	if err != nil {
		t.Fatal(err)
	}
	inst := newInstance(ns, "iris")
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	eventually(t, ctx, "the PVC", exists(ns, "iris-data", pvc))
	if err := updateSpec(ctx, ns, "iris", func(i *v1alpha1.IrisInstance) { i.Spec.Storage.Size = resource.MustParse("11Gi") }); err != nil {
		t.Fatal(err)
	}
	direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	r := &instance.Reconciler{Client: direct, Scheme: env.Scheme, Recorder: recorder, Clock: clock.RealClock{}, AgentImage: "ghcr.io/irisha/irisha:test"}
	reconcileUntilNoConflict(t, ctx, r, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(inst)})
	after := &corev1.PersistentVolumeClaim{}
	if err := get(ctx, ns, "iris-data", after); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(after.Spec, pvc.Spec) {
		t.Errorf("the unbound claim's spec changed: %+v, was %+v", after.Spec, pvc.Spec)
	}
	c := condition(ctx, ns, "iris", v1alpha1.ConditionProgressing)
	if c == nil || c.Reason != instance.ReasonVolumePending {
		t.Errorf("Progressing = %+v, want reason %s", c, instance.ReasonVolumePending)
	}
}

// TestDeletion: deleting an instance removes what it owns (the real garbage
// collector runs) and keeps the PVC under the default Retain policy; under
// Delete the PVC goes too.
func TestDeletion(t *testing.T) {
	for _, tc := range []struct {
		policy   v1alpha1.PVCDeletionPolicy
		keepsPVC bool
	}{
		{"", true},
		{v1alpha1.PVCDelete, false},
	} {
		t.Run("policy="+string(tc.policy), func(t *testing.T) {
			ctx := t.Context()
			ns, err := env.Namespace(ctx, "deletion")
			if err != nil {
				t.Fatal(err)
			}
			inst := newInstance(ns, "iris")
			inst.Spec.Storage.DeletionPolicy = tc.policy
			if err := env.Client.Create(ctx, inst); err != nil {
				t.Fatal(err)
			}
			eventually(t, ctx, "the Deployment", exists(ns, "iris", &appsv1.Deployment{}))
			eventually(t, ctx, "the PVC", exists(ns, "iris-data", &corev1.PersistentVolumeClaim{}))
			eventually(t, ctx, "the instance's irisha_instance_ready series", func(context.Context) (bool, error) {
				_, ok, err := readyMetric(ns, "iris")
				return ok, err
			})
			if err := env.Client.Delete(ctx, inst, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
				t.Fatal(err)
			}
			eventually(t, ctx, "the garbage collector to delete the Deployment", func(ctx context.Context) (bool, error) {
				err := get(ctx, ns, "iris", &appsv1.Deployment{})
				return apierrors.IsNotFound(err), nil
			})
			eventually(t, ctx, "the instance's irisha_instance_ready series to go", func(context.Context) (bool, error) {
				_, ok, err := readyMetric(ns, "iris")
				return !ok, err
			})
			pvc := &corev1.PersistentVolumeClaim{}
			if tc.keepsPVC {
				if err := get(ctx, ns, "iris-data", pvc); err != nil {
					t.Fatalf("the PVC must survive its instance under Retain: %v", err)
				}
				if pvc.DeletionTimestamp != nil {
					t.Errorf("the retained PVC is being deleted")
				}
				return
			}
			eventually(t, ctx, "the PVC to be deleted", func(ctx context.Context) (bool, error) {
				return apierrors.IsNotFound(get(ctx, ns, "iris-data", pvc)), nil
			})
		})
	}
}

// reconcileUntilNoConflict runs one reconcile to completion. The manager's
// own reconciler and the Deployment controller write concurrently, so an
// optimistic-lock conflict is expected now and then; the manager would
// requeue it, and so does this.
func reconcileUntilNoConflict(t *testing.T, ctx context.Context, r *instance.Reconciler, req ctrl.Request) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		_, err := r.Reconcile(ctx, req)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || attempt == 5 {
			t.Fatalf("reconcile: %v", err)
		}
	}
}
