package apivalidation

import (
	"context"
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
)

// TestWithDefaultsMatchesTheCRD proves that IrisInstance.WithDefaults, used
// where no API server defaults an object, fills in exactly what the CRD's
// default markers fill in.
func TestWithDefaultsMatchesTheCRD(t *testing.T) {
	v, err := ForKind("IrisInstance")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec v1alpha1.IrisInstanceSpec
	}{
		{"sparse", v1alpha1.IrisInstanceSpec{Image: "x", Storage: v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")}}},
		{"every optional reference", v1alpha1.IrisInstanceSpec{
			Image:            "x",
			Storage:          v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")},
			Config:           &v1alpha1.ConfigSpec{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "c"}},
			LicenseKeySecret: &v1alpha1.LicenseKeySecretRef{Name: "k"},
			PasswordSecret:   &v1alpha1.PasswordSecretRef{Name: "p"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := &v1alpha1.IrisInstance{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "IrisInstance"},
				ObjectMeta: metav1.ObjectMeta{Name: "i"},
				Spec:       tc.spec,
			}
			raw, err := json.Marshal(inst)
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatal(err)
			}
			v.Default(obj)
			if errs := v.Validate(context.Background(), obj); len(errs) > 0 {
				t.Fatalf("the defaulted object is invalid: %v", errs)
			}
			raw, err = json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			byCRD := &v1alpha1.IrisInstance{}
			if err := json.Unmarshal(raw, byCRD); err != nil {
				t.Fatal(err)
			}
			byGo := inst.WithDefaults()
			if !equality.Semantic.DeepEqual(byCRD.Spec, byGo.Spec) {
				t.Errorf("WithDefaults differs from the CRD defaults (-crd +go):\n%s", diff.Diff(byCRD.Spec, byGo.Spec))
			}
		})
	}
}

func TestValidateRejectsWhatTheServerRejects(t *testing.T) {
	v, err := ForKind("IrisInstance")
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{
		"apiVersion": "irisha.dev/v1alpha1", "kind": "IrisInstance", "metadata": map[string]any{"name": "i"},
		"spec": map[string]any{"image": "x", "storage": map[string]any{"size": "0"}},
	}
	v.Default(obj)
	if errs := v.Validate(context.Background(), obj); len(errs) == 0 {
		t.Errorf("a zero size passed the CEL rule")
	}
	if _, err := ForKind("NoSuchKind"); err == nil {
		t.Errorf("an unknown kind must be an error")
	}
}

// TestShutdownTimeoutMatchesIRIS ties the three homes of IRIS's [Startup]
// ShutdownTimeout together: the CRD's markers (which cannot name a Go
// constant), internal/iris's range and default (what a CPF merge is checked
// against) and v1alpha1's default (WithDefaults).
func TestShutdownTimeoutMatchesIRIS(t *testing.T) {
	v, err := ForKind("IrisInstance")
	if err != nil {
		t.Fatal(err)
	}
	object := func(spec map[string]any) map[string]any {
		spec["image"], spec["storage"] = "x", map[string]any{"size": "1Gi"}
		obj := map[string]any{"apiVersion": "irisha.dev/v1alpha1", "kind": "IrisInstance", "metadata": map[string]any{"name": "i"}, "spec": spec}
		v.Default(obj)
		return obj
	}
	defaulted := object(map[string]any{})["spec"].(map[string]any)["shutdownTimeoutSeconds"]
	for name, want := range map[string]int64{"iris.DefaultShutdownTimeout": iris.DefaultShutdownTimeout, "v1alpha1.DefaultShutdownTimeoutSeconds": v1alpha1.DefaultShutdownTimeoutSeconds} {
		if got, ok := defaulted.(int64); !ok || got != want {
			t.Errorf("the CRD defaults shutdownTimeoutSeconds to %v (%T), %s is %d", defaulted, defaulted, name, want)
		}
	}
	for _, tc := range []struct {
		seconds int
		ok      bool
	}{
		{iris.MinShutdownTimeout - 1, false},
		{iris.MinShutdownTimeout, true},
		{iris.MaxShutdownTimeout, true},
		{iris.MaxShutdownTimeout + 1, false},
	} {
		errs := v.Validate(context.Background(), object(map[string]any{"shutdownTimeoutSeconds": int64(tc.seconds)}))
		if (len(errs) == 0) != tc.ok {
			t.Errorf("shutdownTimeoutSeconds %d: CRD errors %v, want ok=%v", tc.seconds, errs, tc.ok)
		}
		if (iris.ValidateShutdownTimeout(tc.seconds) == nil) != tc.ok {
			t.Errorf("shutdownTimeoutSeconds %d: iris.ValidateShutdownTimeout disagrees with the CRD", tc.seconds)
		}
	}
}

// TestMaxFrozenSecondsDefault ties v1alpha1.DefaultMaxFrozenSeconds to the
// IrisBackup CRD's default marker.
func TestMaxFrozenSecondsDefault(t *testing.T) {
	v, err := ForKind("IrisBackup")
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{"apiVersion": "irisha.dev/v1alpha1", "kind": "IrisBackup", "metadata": map[string]any{"name": "b"},
		"spec": map[string]any{"instanceName": "i"}}
	v.Default(obj)
	if got := obj["spec"].(map[string]any)["maxFrozenSeconds"]; got != int64(v1alpha1.DefaultMaxFrozenSeconds) {
		t.Errorf("the CRD defaults maxFrozenSeconds to %v (%T), v1alpha1.DefaultMaxFrozenSeconds is %d", got, got, v1alpha1.DefaultMaxFrozenSeconds)
	}
}
