package instance_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/instance"
	"github.com/irisha/irisha/internal/resources"
)

// drift is an instance whose objects exist, and a reconciler of the test's
// own that has applied them once: what it does at its next reconcile is
// what one reconcile does after an edit. (The manager's reconciler runs
// too and may take an edit back first; either way one reconcile must do.)
type drift struct {
	ns   string
	inst *v1alpha1.IrisInstance
	r    *instance.Reconciler
	req  ctrl.Request
}

func newDrift(t *testing.T, ctx context.Context, mutate ...func(*v1alpha1.IrisInstance)) *drift {
	t.Helper()
	ns, err := env.Namespace(ctx, "drift")
	if err != nil {
		t.Fatal(err)
	}
	inst := newInstance(ns, "iris")
	for _, m := range mutate {
		m(inst)
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the Deployment", exists(ns, "iris", &appsv1.Deployment{}))
	eventually(t, ctx, "the Service", exists(ns, "iris", &corev1.Service{}))
	eventually(t, ctx, "the agent's Role", exists(ns, resources.AgentRoleName(inst), &rbacv1.Role{}))
	direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	d := &drift{ns: ns, inst: inst, req: ctrl.Request{NamespacedName: client.ObjectKeyFromObject(inst)},
		r: &instance.Reconciler{Client: direct, Scheme: env.Scheme, Recorder: recorder, Clock: clock.RealClock{}, AgentImage: "ghcr.io/irisha/irisha:test"}}
	reconcileUntilNoConflict(t, ctx, d.r, d.req)
	return d
}

// reconcileOnce runs the test's reconciler once after an edit.
func (d *drift) reconcileOnce(t *testing.T, ctx context.Context) {
	t.Helper()
	reconcileUntilNoConflict(t, ctx, d.r, d.req)
}

// event waits for an Event about the instance with reason whose note holds
// every one of words.
func (d *drift) event(t *testing.T, ctx context.Context, reason string, words ...string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			list := &eventsv1.EventList{}
			_ = env.Client.List(context.Background(), list, client.InNamespace(d.ns))
			for _, e := range list.Items {
				t.Logf("event %s %s: %s", e.Regarding.Name, e.Reason, e.Note)
			}
		}
	}()
	eventually(t, ctx, "Event "+reason+" naming "+strings.Join(words, ", "), func(ctx context.Context) (bool, error) {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(d.ns)); err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.Regarding.Name != d.inst.Name || e.Reason != reason {
				continue
			}
			if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(e.Note, w) }) {
				return true, nil
			}
		}
		return false, nil
	})
}

func (d *drift) deployment(t *testing.T, ctx context.Context) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	if err := get(ctx, d.ns, "iris", dep); err != nil {
		t.Fatal(err)
	}
	return dep
}

// TestScaledDeploymentIsPutBack: the reference article grows a volume with
// `kubectl scale --replicas=0`; irisha runs exactly one IRIS, so a scale to 0
// or to 2 is reverted (a planned stop is irisha's own, for an offline growth).
func TestScaledDeploymentIsPutBack(t *testing.T) {
	ctx := t.Context()
	d := newDrift(t, ctx)
	for _, replicas := range []int32{0, 2} {
		scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: d.ns, Name: "iris"}, Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
		if err := env.Client.SubResource("scale").Update(ctx, d.deployment(t, ctx), client.WithSubResourceBody(scale), client.FieldOwner("kubectl")); err != nil {
			t.Fatal(err)
		}
		d.reconcileOnce(t, ctx)
		if got := d.deployment(t, ctx).Spec.Replicas; got == nil || *got != 1 {
			t.Errorf("scaled to %d: %v replicas after one reconcile, want 1", replicas, got)
		}
		// The API server records no manager for a write through /scale
		// while an apply owns the field, so the Event cannot say who.
		d.event(t, ctx, "DriftReverted", "replicas", "Deployment iris")
	}
}

// TestEditedCommandIsPutBack: an IRIS container started without the agent
// runs IRIS with no fencing, so its command is irisha's.
func TestEditedCommandIsPutBack(t *testing.T) {
	ctx := t.Context()
	d := newDrift(t, ctx)
	want := d.deployment(t, ctx).Spec.Template.Spec.Containers[0].Command
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep := d.deployment(t, ctx)
		dep.Spec.Template.Spec.Containers[0].Command = []string{"/iris-main"}
		return env.Client.Update(ctx, dep, client.FieldOwner("kubectl-edit"))
	}); err != nil {
		t.Fatal(err)
	}
	d.reconcileOnce(t, ctx)
	if got := d.deployment(t, ctx).Spec.Template.Spec.Containers[0].Command; !slices.Equal(got, want) {
		t.Errorf("command after one reconcile: %q, want %q", got, want)
	}
	d.event(t, ctx, "DriftReverted", "container iris command", "by kubectl-edit")
}

// TestDeletedObjectsComeBack: a deleted Service or agent Role is created
// again, and the Event says it was deleted outside irisha.
func TestDeletedObjectsComeBack(t *testing.T) {
	ctx := t.Context()
	d := newDrift(t, ctx)
	for kind, o := range map[string]client.Object{
		"Service": &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: d.ns, Name: "iris"}},
		"Role":    &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: d.ns, Name: resources.AgentRoleName(d.inst)}},
	} {
		if err := env.Client.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
		d.reconcileOnce(t, ctx)
		if err := get(ctx, d.ns, o.GetName(), o); err != nil {
			t.Errorf("%s %s after one reconcile: %v", kind, o.GetName(), err)
		}
		d.event(t, ctx, "Recreated", kind+" "+o.GetName(), "deleted outside irisha")
	}
}

// TestEditedRoleIsPutBack: the agent's Role is what lets it renew the
// fencing Lease; an emptied rule list is restored.
func TestEditedRoleIsPutBack(t *testing.T) {
	ctx := t.Context()
	d := newDrift(t, ctx)
	role := &rbacv1.Role{}
	name := resources.AgentRoleName(d.inst)
	if err := get(ctx, d.ns, name, role); err != nil {
		t.Fatal(err)
	}
	want := role.Rules
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := get(ctx, d.ns, name, role); err != nil {
			return err
		}
		role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}
		return env.Client.Update(ctx, role, client.FieldOwner("kubectl-edit"))
	}); err != nil {
		t.Fatal(err)
	}
	d.reconcileOnce(t, ctx)
	if err := get(ctx, d.ns, name, role); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(role.Rules, want) {
		t.Errorf("rules after one reconcile: %+v, want %+v", role.Rules, want)
	}
	d.event(t, ctx, "DriftReverted", "rules", "Role "+name)
}

// TestClaimGrownByHandIsKept: the reference article grows the claim with
// kubectl edit. A claim cannot shrink, so irisha keeps the new size, says
// that spec.storage.size is below it, and never asks for less.
func TestClaimGrownByHandIsKept(t *testing.T) {
	ctx := t.Context()
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{GenerateName: "expandable-"}, Provisioner: "driver.longhorn.io", AllowVolumeExpansion: ptr.To(true)}
	if err := env.Client.Create(ctx, class); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), class) })
	d := newDrift(t, ctx, func(i *v1alpha1.IrisInstance) { i.Spec.Storage.ClassName = ptr.To(class.Name) })
	pvc := &corev1.PersistentVolumeClaim{}
	name := resources.PVCName(d.inst)
	// No volume is provisioned here: the claim is bound as the PV
	// controller would mark it, so Kubernetes lets its request grow.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := get(ctx, d.ns, name, pvc); err != nil {
			return err
		}
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}
		return env.Client.Status().Update(ctx, pvc)
	}); err != nil {
		t.Fatal(err)
	}
	d.reconcileOnce(t, ctx)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := get(ctx, d.ns, name, pvc); err != nil {
			return err
		}
		pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("20Gi")
		return env.Client.Update(ctx, pvc, client.FieldOwner("kubectl-edit"))
	}); err != nil {
		t.Fatal(err)
	}
	d.reconcileOnce(t, ctx)
	if err := get(ctx, d.ns, name, pvc); err != nil {
		t.Fatal(err)
	}
	if got := resources.StorageRequest(pvc); got.Cmp(resource.MustParse("20Gi")) != 0 {
		t.Errorf("request after one reconcile: %s, want the 20Gi set by hand", got.String())
	}
	c := condition(ctx, d.ns, "iris", v1alpha1.ConditionVolumeGrowth)
	if c == nil || c.Reason != instance.ReasonLargerThanSpec || !strings.Contains(c.Message, "spec.storage.size to 20Gi") {
		t.Errorf("VolumeGrowth = %+v, want %s telling to set spec.storage.size to 20Gi", c, instance.ReasonLargerThanSpec)
	}
	d.event(t, ctx, instance.ReasonLargerThanSpec, "20Gi")
}

// TestApplyLeavesOthersFieldsAlone: server-side apply owns only what irisha
// decides. `kubectl rollout restart` (a pod template annotation) and a label
// someone adds stay through an update irisha makes, and their managers keep
// them.
func TestApplyLeavesOthersFieldsAlone(t *testing.T) {
	ctx := t.Context()
	d := newDrift(t, ctx)
	const restartedAt = "kubectl.kubernetes.io/restartedAt"
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep := d.deployment(t, ctx)
		if dep.Spec.Template.Annotations == nil {
			dep.Spec.Template.Annotations = map[string]string{}
		}
		dep.Spec.Template.Annotations[restartedAt] = "2026-12-02T05:00:00Z"
		dep.Labels["team"] = "payments"
		return env.Client.Update(ctx, dep, client.FieldOwner("kubectl-rollout"))
	}); err != nil {
		t.Fatal(err)
	}
	d.reconcileOnce(t, ctx)
	const newImage = "containers.intersystems.com/intersystems/iris-community:2026.1"
	if err := updateSpec(ctx, d.ns, "iris", func(i *v1alpha1.IrisInstance) { i.Spec.Image = newImage }); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the new image applied", func(ctx context.Context) (bool, error) {
		reconcileUntilNoConflict(t, ctx, d.r, d.req)
		return d.deployment(t, ctx).Spec.Template.Spec.Containers[0].Image == newImage, nil
	})
	dep := d.deployment(t, ctx)
	if dep.Spec.Template.Annotations[restartedAt] == "" || dep.Labels["team"] != "payments" {
		t.Errorf("others' fields went: template annotations %v, labels %v", dep.Spec.Template.Annotations, dep.Labels)
	}
	if by := managersOf(dep); !slices.Contains(by, "kubectl-rollout") || !slices.Contains(by, instance.FieldManager) {
		t.Errorf("managers %q, want kubectl-rollout beside %s", by, instance.FieldManager)
	}
	d.event(t, ctx, "Updated", "container iris", "Deployment iris")
}

func managersOf(o client.Object) []string {
	var out []string
	for _, e := range o.GetManagedFields() {
		out = append(out, e.Manager)
	}
	return out
}

// TestUpgradeFromTheHashStamp: objects written by an irisha before
// server-side apply (created and updated under the binary's own field
// manager, with a hash stamp annotation) are taken over: the old manager's
// fields become irisha-instance's, and the stamp, which no apply sets any
// more, goes.
func TestUpgradeFromTheHashStamp(t *testing.T) {
	ctx := t.Context()
	d := newDrift(t, ctx)
	const stamp = "irisha.dev/spec-hash"
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep := d.deployment(t, ctx)
		dep.Annotations = map[string]string{stamp: "0123456789abcdef0123"}
		dep.Spec.Template.Spec.Containers[0].Image = "intersystems/iris:old"
		return env.Client.Update(ctx, dep, client.FieldOwner("irisha-manager"))
	}); err != nil {
		t.Fatal(err)
	}
	d.reconcileOnce(t, ctx)
	dep := d.deployment(t, ctx)
	if _, ok := dep.Annotations[stamp]; ok {
		t.Errorf("the hash stamp stayed: %v", dep.Annotations)
	}
	if by := managersOf(dep); slices.Contains(by, "irisha-manager") {
		t.Errorf("managers %q still hold the old irisha's", by)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != d.inst.Spec.Image {
		t.Errorf("image %s, want the spec's %s", img, d.inst.Spec.Image)
	}
}
