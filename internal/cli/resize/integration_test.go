package resize_test

import (
	"context"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/clitest"
)

// TestResize runs `irisha resize` against a real API server, the test
// playing the operator: a smaller size is refused before the API server
// sees it, the API server's own refusal is printed, and --wait follows the
// growth to the new capacity or to the operator's refusal.
func TestResize(t *testing.T) {
	env := clitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := env.Namespace(t)
	c := env.Client
	must(t, c.Create(ctx, &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris"},
		Spec: v1alpha1.IrisInstanceSpec{Image: "iris", Storage: v1alpha1.StorageSpec{Size: resource.MustParse("10Gi"),
			AutoGrow: &v1alpha1.AutoGrowSpec{Limit: resource.MustParse("25Gi")}}},
	}))

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"iris", "5Gi"}, []string{"IrisInstance iris has storage.size 10Gi", "never shrinks, so 5Gi is refused", "at least 10Gi"}},
			{[]string{"iris", "ten"}, []string{`"ten" is not a size`, "20Gi"}},
			{[]string{"iris", "0"}, []string{"greater than zero"}},
			{[]string{"nope", "20Gi"}, []string{"IrisInstance nope not found in namespace " + ns}},
			{[]string{"iris"}, []string{"irisha resize INSTANCE SIZE"}},
		} {
			r := env.Irisha(ctx, append([]string{"resize", "-n", ns}, tc.args...)...)
			if r.Error == nil {
				t.Errorf("%v: accepted:\n%s", tc.args, r.Out)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Error.Error(), w) {
					t.Errorf("%v: error %q does not say %q", tc.args, r.Error, w)
				}
			}
		}
		if s := size(ctx, t, c, ns); s != "10Gi" {
			t.Errorf("a refused resize changed the size to %s", s)
		}
	})

	t.Run("patches the size", func(t *testing.T) {
		r := env.Irisha(ctx, "resize", "iris", "10Gi", "-n", ns)
		if r.Error != nil || !strings.Contains(r.Out, "irisinstance.irisha.dev/iris unchanged: storage.size is 10Gi already") {
			t.Errorf("same size: %v\n%s", r.Error, r.Out)
		}
		r = env.Irisha(ctx, "resize", "iris", "20Gi", "-n", ns)
		if r.Error != nil || !strings.Contains(r.Out, "irisinstance.irisha.dev/iris resized: storage.size 10Gi -> 20Gi") {
			t.Errorf("%v\n%s", r.Error, r.Out)
		}
		if s := size(ctx, t, c, ns); s != "20Gi" {
			t.Errorf("size %s, want 20Gi", s)
		}
	})

	t.Run("the API server's refusal is printed", func(t *testing.T) {
		kubeconfig := viewer(ctx, t, env, ns)
		r := env.Irisha(ctx, "resize", "iris", "21Gi", "-n", ns, "--kubeconfig", kubeconfig)
		if r.Error == nil || !strings.Contains(r.Error.Error(), "the API server refused storage.size 21Gi for IrisInstance iris") ||
			!strings.Contains(r.Error.Error(), `cannot patch resource "irisinstances"`) {
			t.Errorf("error %v", r.Error)
		}
	})

	t.Run("--wait follows the growth to the new capacity", func(t *testing.T) {
		p := env.Start(ctx, "resize", "iris", "30Gi", "-n", ns, "--wait", "--timeout", "1m")
		p.WaitOutput(t, "resized: storage.size 20Gi -> 30Gi")
		p.WaitOutput(t, "Note: storage.autoGrow.limit is 25Gi, below the new size")
		p.WaitOutput(t, "capacity unknown   waiting for the irisha operator to see the new size")
		setStatus(ctx, t, c, ns, func(inst *v1alpha1.IrisInstance) {
			inst.Status.Capacity = ptr(resource.MustParse("20Gi"))
			inst.Status.Volume = &v1alpha1.VolumeStatus{Resize: &v1alpha1.ResizeRecord{Mode: v1alpha1.ResizeOnline, Step: v1alpha1.ResizeExpanding,
				From: resource.MustParse("20Gi"), To: resource.MustParse("30Gi"), StartedAt: metav1.Now()}}
			inst.Status.Conditions = []metav1.Condition{condition(inst, v1alpha1.ConditionResizing, metav1.ConditionTrue, "Expanding", "Growing PersistentVolumeClaim iris-data from 20Gi to 30Gi")}
		})
		p.WaitOutput(t, "capacity 20Gi      Resizing=True Expanding: Growing PersistentVolumeClaim iris-data from 20Gi to 30Gi (Online, step Expanding)")
		// The claim reports the size before the condition clears: not yet done.
		setStatus(ctx, t, c, ns, func(inst *v1alpha1.IrisInstance) { inst.Status.Capacity = ptr(resource.MustParse("30Gi")) })
		p.WaitOutput(t, "capacity 30Gi      Resizing=True Expanding")
		setStatus(ctx, t, c, ns, func(inst *v1alpha1.IrisInstance) {
			inst.Status.Volume = nil
			inst.Status.Conditions = []metav1.Condition{condition(inst, v1alpha1.ConditionResizing, metav1.ConditionFalse, "Resized", "")}
		})
		r := p.Wait()
		if r.Error != nil {
			t.Fatalf("%v\n%s", r.Error, r.Out)
		}
		if !strings.Contains(r.Out, "capacity 30Gi      the claim reports the new size") {
			t.Errorf("output:\n%s", r.Out)
		}
	})

	t.Run("--wait exits non-zero when the volume cannot grow", func(t *testing.T) {
		p := env.Start(ctx, "resize", "iris", "40Gi", "-n", ns, "--wait")
		p.WaitOutput(t, "resized: storage.size 30Gi -> 40Gi")
		// A stale refusal of an earlier generation is not this one's.
		setStatus(ctx, t, c, ns, func(inst *v1alpha1.IrisInstance) {
			stale := condition(inst, v1alpha1.ConditionVolumeGrowth, metav1.ConditionFalse, "AutoGrowLimit", "autoGrow is at its limit")
			stale.ObservedGeneration--
			inst.Status.Conditions = []metav1.Condition{stale}
		})
		p.WaitOutput(t, "capacity 30Gi      waiting for the claim to report the new size")
		setStatus(ctx, t, c, ns, func(inst *v1alpha1.IrisInstance) {
			inst.Status.Conditions = []metav1.Condition{condition(inst, v1alpha1.ConditionVolumeGrowth, metav1.ConditionFalse, "ExpansionNotAllowed",
				"StorageClass local-disk does not allow volume expansion: set allowVolumeExpansion: true")}
		})
		r := p.Wait()
		if r.Error == nil || !strings.Contains(r.Error.Error(),
			"the volume of IrisInstance iris cannot grow to 40Gi (ExpansionNotAllowed): StorageClass local-disk does not allow volume expansion") {
			t.Errorf("error %v\n%s", r.Error, r.Out)
		}

		r = env.Irisha(ctx, "resize", "iris", "50Gi", "-n", ns, "--wait", "--timeout", "1s", "-o", "json")
		if r.Error == nil || !strings.Contains(r.Error.Error(), "timed out after 1s waiting for the volume of IrisInstance iris to reach 50Gi: the claim reports 30Gi of 50Gi") {
			t.Errorf("error %v", r.Error)
		}
		if r.Out != "" || !strings.Contains(r.Err, "resized: storage.size 40Gi -> 50Gi") {
			t.Errorf("with -o json, standard output %q, standard error %q", r.Out, r.Err)
		}
	})
}

// viewer is a kubeconfig of a user who may read IrisInstances but not
// change them.
func viewer(ctx context.Context, t *testing.T, env *clitest.Env, ns string) string {
	t.Helper()
	must(t, env.Client.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "viewer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"irisha.dev"}, Resources: []string{"irisinstances"}, Verbs: []string{"get", "list", "watch"}}},
	}))
	must(t, env.Client.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "viewer"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "viewer"}},
	}))
	kubeconfig, err := env.UserKubeconfigVia(env.APIServerHostPort(), "viewer")
	must(t, err)
	return kubeconfig
}

func condition(inst *v1alpha1.IrisInstance, typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: inst.Generation, LastTransitionTime: metav1.Now()}
}

// setStatus plays the operator: it has seen the current generation.
func setStatus(ctx context.Context, t *testing.T, c client.Client, ns string, change func(*v1alpha1.IrisInstance)) {
	t.Helper()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		inst := &v1alpha1.IrisInstance{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "iris"}, inst); err != nil {
			return err
		}
		inst.Status.ObservedGeneration = inst.Generation
		change(inst)
		return c.Status().Update(ctx, inst)
	}))
}

func size(ctx context.Context, t *testing.T, c client.Client, ns string) string {
	t.Helper()
	inst := &v1alpha1.IrisInstance{}
	must(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "iris"}, inst))
	return inst.Spec.Storage.Size.String()
}

func ptr(q resource.Quantity) *resource.Quantity { return &q }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
