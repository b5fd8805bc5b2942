package ssa

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func deployment(mutate ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "iris", Namespace: "ns", Labels: map[string]string{"app": "iris"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "iris", Image: "iris:1", Command: []string{"/agent", "run"}}},
				Volumes:    []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			}},
		},
	}
	for _, m := range mutate {
		m(d)
	}
	return d
}

func TestConfigurationHoldsWhatWasSetOnly(t *testing.T) {
	cfg, _, err := Configuration(deployment(), clientgoscheme.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GetAPIVersion() != "apps/v1" || cfg.GetKind() != "Deployment" {
		t.Errorf("type %s %s, want apps/v1 Deployment", cfg.GetAPIVersion(), cfg.GetKind())
	}
	if _, ok := cfg.Object["status"]; ok {
		t.Error("an empty status would be applied")
	}
	if _, ok := cfg.Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
		t.Error("the zero creation timestamp would be applied")
	}
	tmpl := cfg.Object["spec"].(map[string]any)["template"].(map[string]any)
	if md, ok := tmpl["metadata"].(map[string]any); ok {
		if _, ok := md["creationTimestamp"]; ok {
			t.Error("the template's zero creation timestamp would be applied")
		}
	}
	// Zero values the builder chose stay: replicas 0 stops IRIS, and an
	// emptyDir is a volume source even when it is empty.
	if r := cfg.Object["spec"].(map[string]any)["replicas"]; r != int64(0) {
		t.Errorf("replicas = %v (%T), want an explicit 0", r, r)
	}
	vol := tmpl["spec"].(map[string]any)["volumes"].([]any)[0].(map[string]any)
	if _, ok := vol["emptyDir"]; !ok {
		t.Errorf("the emptyDir source went: %v", vol)
	}
}

func TestIntentFollowsTheObject(t *testing.T) {
	intent := func(d *appsv1.Deployment) string {
		_, i, err := Configuration(d, clientgoscheme.Scheme)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	a, b := intent(deployment()), intent(deployment())
	if a == "" || a != b {
		t.Errorf("the same object gives intents %q and %q", a, b)
	}
	if c := intent(deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "iris:2" })); c == a {
		t.Error("a new image keeps the intent")
	}
}

// owning gives d a managedFields entry by which manager m owns its replicas
// and its label app, as an apply of those would leave.
func owning(d *appsv1.Deployment) {
	d.ManagedFields = []metav1.ManagedFieldsEntry{{
		Manager: "m", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps/v1", FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{}}}`),
	}}
}

func TestFingerprintIsWhatTheManagerOwns(t *testing.T) {
	fingerprint := func(mutate func(*appsv1.Deployment)) string {
		d := deployment(owning)
		if mutate != nil {
			mutate(d)
		}
		f, err := Fingerprint(d, "m")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	base := fingerprint(nil)
	for name, same := range map[string]func(*appsv1.Deployment){
		"status":           func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 1 },
		"resource version": func(d *appsv1.Deployment) { d.ResourceVersion = "42" },
		"another's annotation": func(d *appsv1.Deployment) {
			d.Annotations = map[string]string{"deployment.kubernetes.io/revision": "2"}
		},
		"a field m does not own": func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "iris:2" },
	} {
		if fingerprint(same) != base {
			t.Errorf("a change of %s changes the fingerprint", name)
		}
	}
	for name, other := range map[string]func(*appsv1.Deployment){
		"replicas (kubectl scale)": func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](2) },
		"m's label":                func(d *appsv1.Deployment) { d.Labels["app"] = "other" },
		"ownership taken":          func(d *appsv1.Deployment) { d.ManagedFields[0].Manager = "kubectl-edit" },
	} {
		if fingerprint(other) == base {
			t.Errorf("a change of %s keeps the fingerprint", name)
		}
	}
	if _, err := Fingerprint(&corev1.ConfigMap{}, "m"); err == nil {
		t.Error("a kind irisha does not apply has a fingerprint")
	}
}

func TestChangedGroupsNameWhatUsersEdit(t *testing.T) {
	cases := []struct {
		name          string
		before, after client.Object
		want          []string
	}{
		{"kubectl scale", deployment(), deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](2) }), []string{"replicas"}},
		{"edited command", deployment(), deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Command = []string{"iris-main"}
		}), []string{"container iris command"}},
		{"new image", deployment(), deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "iris:2" }), []string{"container iris"}},
		{"added sidecar", deployment(), deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "side"})
		}), []string{"container side"}},
		{"label and volumes", deployment(), deployment(func(d *appsv1.Deployment) {
			d.Labels["x"] = "y"
			d.Spec.Template.Spec.Volumes = nil
		}), []string{"labels", "volumes"}},
		{"role rule",
			&rbacv1.Role{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}}}},
			&rbacv1.Role{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "update"}}}}, []string{"rules"}},
		{"claim grown by hand",
			&corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
			&corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}}}},
			[]string{"storage request"}},
		{"same quantity spelled otherwise",
			&corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
			&corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1073741824")}}}},
			nil},
		{"service ports", &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 1972}}}}, &corev1.Service{}, []string{"ports"}},
	}
	for _, c := range cases {
		if got := ChangedGroups(c.before, c.after); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: changed %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLastChangedByIsTheNewestOtherWriter(t *testing.T) {
	at := func(s int) *metav1.Time { t := metav1.NewTime(time.Unix(int64(s), 0)); return &t }
	d := deployment(func(d *appsv1.Deployment) {
		d.ManagedFields = []metav1.ManagedFieldsEntry{
			{Manager: "irisha-instance", Operation: metav1.ManagedFieldsOperationApply, Time: at(30)},
			{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "scale", Time: at(20)},
			{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", Time: at(40)},
			{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(10)},
		}
	})
	if got := LastChangedBy(d, "irisha-instance"); got != "kubectl" {
		t.Errorf("last changed by %q, want kubectl (its own writes and status writes aside)", got)
	}
	if got := LastChangedBy(deployment(), "irisha-instance"); got != "" {
		t.Errorf("no manager: %q", got)
	}
}

func TestMemory(t *testing.T) {
	var m Memory
	k := Key{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "iris"}}
	owner := types.NamespacedName{Namespace: "ns", Name: "inst"}
	if m.Unchanged(k, "u", "f", "i") {
		t.Error("unchanged before any apply")
	}
	m.Remember(k, Applied{Owner: owner, UID: "u", Fingerprint: "f", Intent: "i"})
	if !m.Unchanged(k, "u", "f", "i") {
		t.Error("changed right after its apply")
	}
	for _, c := range [][3]string{{"v", "f", "i"}, {"u", "g", "i"}, {"u", "f", "j"}} {
		if m.Unchanged(k, types.UID(c[0]), c[1], c[2]) {
			t.Errorf("unchanged with %v", c)
		}
	}
	m.ForgetOwner(owner)
	if _, ok := m.Last(k); ok {
		t.Error("remembered after its owner went")
	}
}
