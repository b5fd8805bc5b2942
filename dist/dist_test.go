package dist_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/config"
	"github.com/irisha/irisha/dist"
	"github.com/irisha/irisha/internal/testenv"
)

const fieldOwner = "irisha-install-test"

func objects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := dist.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 10 {
		t.Fatalf("dist/install.yaml holds %d objects; make dist", len(objs))
	}
	return objs
}

// typed converts the manifest's object of this kind and name.
func typed[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			out := new(T)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
				t.Fatalf("converting %s %s: %v", kind, name, err)
			}
			return out
		}
	}
	t.Fatalf("dist/install.yaml has no %s %s", kind, name)
	return nil
}

// TestAgentImageIsTheOperatorImage: IRIS pods get the agent from the image
// the operator runs, and the witnesses run it too; config/default sets the
// one tag (images) and copies it into the argument (replacements).
func TestAgentImageIsTheOperatorImage(t *testing.T) {
	objs := objects(t)
	d := typed[appsv1.Deployment](t, objs, "Deployment", "irisha-manager")
	c := d.Spec.Template.Spec.Containers[0]
	if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":") {
		t.Fatalf("operator image %q has no tag", c.Image)
	}
	if !slices.Contains(c.Args, "--agent-image="+c.Image) {
		t.Errorf("operator args %q lack --agent-image=%s", c.Args, c.Image)
	}
	if !slices.Contains(c.Args, "--leader-elect") {
		t.Errorf("operator args %q lack --leader-elect", c.Args)
	}
	ds := typed[appsv1.DaemonSet](t, objs, "DaemonSet", "irisha-witness")
	if got := ds.Spec.Template.Spec.Containers[0].Image; got != c.Image {
		t.Errorf("witness image %q, operator image %q", got, c.Image)
	}
	if !slices.Contains(c.Args, "--witness-namespace="+dist.Namespace) {
		t.Errorf("operator args %q do not name the witnesses' namespace %s", c.Args, dist.Namespace)
	}
}

// TestRBACHasNoWildcard: every grant names its verbs, resources and
// groups (no "*").
func TestRBACHasNoWildcard(t *testing.T) {
	roles := 0
	for _, u := range objects(t) {
		var rules []rbacv1.PolicyRule
		switch u.GetKind() {
		case "ClusterRole":
			rules = typed[rbacv1.ClusterRole](t, []*unstructured.Unstructured{u}, "ClusterRole", u.GetName()).Rules
		case "Role":
			rules = typed[rbacv1.Role](t, []*unstructured.Unstructured{u}, "Role", u.GetName()).Rules
		default:
			continue
		}
		roles++
		for _, r := range rules {
			for _, v := range slices.Concat(r.Verbs, r.Resources, r.APIGroups, r.NonResourceURLs) {
				if strings.Contains(v, "*") {
					t.Errorf("%s %s grants %q: %+v", u.GetKind(), u.GetName(), v, r)
				}
			}
		}
	}
	if roles < 5 {
		t.Fatalf("only %d roles in dist/install.yaml", roles)
	}
}

// TestInstallAppliesServerSide is `kubectl apply --server-side
// --dry-run=server -f dist/install.yaml` against a real API server: every
// object passes validation, defaulting and admission (RBAC escalation
// checks included) as it would be installed.
func TestInstallAppliesServerSide(t *testing.T) {
	env, ctx := start(t)
	objs := objects(t)
	// The namespace must exist for its objects' dry run to be admitted,
	// as it would once a real apply reached them.
	if objs[0].GetKind() != "Namespace" {
		t.Fatalf("the first object is a %s, not the Namespace: kubectl would apply the rest before it", objs[0].GetKind())
	}
	if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(objs[0].DeepCopy()), client.FieldOwner(fieldOwner)); err != nil {
		t.Fatalf("applying the Namespace: %v", err)
	}
	for _, u := range objs {
		err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("server-side apply (dry run) of %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// TestPodSecurity: the namespace's Pod Security level admits the
// witnesses' and the operator's pods; the operator's pod meets
// "restricted"; the witnesses' does not meet "baseline" (its hostPort),
// which is why the namespace is "privileged".
func TestPodSecurity(t *testing.T) {
	env, ctx := start(t)
	objs := objects(t)
	ns := typed[corev1.Namespace](t, objs, "Namespace", dist.Namespace)
	manager := podOf("manager", typed[appsv1.Deployment](t, objs, "Deployment", "irisha-manager").Spec.Template)
	witness := podOf("witness", typed[appsv1.DaemonSet](t, objs, "DaemonSet", "irisha-witness").Spec.Template)
	for _, tc := range []struct {
		level  string // empty: the manifest's own labels
		pod    *corev1.Pod
		refuse string // part of the refusal, or empty to admit
	}{
		{"", manager, ""},
		{"", witness, ""},
		{"restricted", manager, ""},
		{"baseline", witness, "hostPort"},
	} {
		labels := ns.Labels
		if tc.level != "" {
			labels = map[string]string{"pod-security.kubernetes.io/enforce": tc.level}
		}
		name, err := env.Namespace(ctx, "psa")
		if err != nil {
			t.Fatal(err)
		}
		n := &corev1.Namespace{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, n); err != nil {
			t.Fatal(err)
		}
		n.Labels = labels
		if err := env.Client.Update(ctx, n); err != nil {
			t.Fatal(err)
		}
		pod := tc.pod.DeepCopy()
		pod.Namespace = name
		err = env.Client.Create(ctx, pod, client.DryRunAll)
		what := tc.pod.Name + " pod under " + map[bool]string{true: "the manifest's labels", false: tc.level}[tc.level == ""]
		switch {
		case tc.refuse == "" && err != nil:
			t.Errorf("%s refused: %v", what, err)
		case tc.refuse != "" && err == nil:
			t.Errorf("%s admitted, want it refused for %s", what, tc.refuse)
		case tc.refuse != "" && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.refuse)):
			t.Errorf("%s refused with %v, want a PodSecurity refusal naming %s", what, err, tc.refuse)
		}
	}
}

func podOf(name string, tmpl corev1.PodTemplateSpec) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tmpl.Labels},
		Spec:       tmpl.Spec,
	}
}

func start(t *testing.T) (*testenv.Env, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a control plane")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return env, ctx
}

// TestInstallHoldsEveryCRD: a CRD controller-gen generates but
// config/crd/kustomization.yaml does not list would be missing from the
// install, and the operator would fail to watch its kind.
func TestInstallHoldsEveryCRD(t *testing.T) {
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t)
	for _, doc := range crds {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
			return o.GetKind() == "CustomResourceDefinition" && o.GetName() == u.GetName()
		}) {
			t.Errorf("dist/install.yaml lacks CRD %s: list it in config/crd/kustomization.yaml and make dist", u.GetName())
		}
	}
}
