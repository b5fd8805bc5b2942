// Package ssa is irisha's use of server-side apply for the objects its
// controllers own: a built object turned into the apply configuration of
// exactly the fields irisha decides, a memory of what was last applied so an
// unchanged object costs no request, and the names of the field groups an
// apply changed, for the Event that says what was reverted or updated.
//
// Server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/)
// gives each field an owner: fields irisha applies are irisha's, and an edit
// by anyone else moves the edited field to its editor. Applying again with
// force takes such a field back (drift reverted) and leaves every field irisha
// does not apply (defaults, other controllers' fields, a user's extra label)
// alone.
package ssa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Configuration returns obj as the body of an apply: every field the
// builder set, and none of the zero values a typed object carries for fields
// it did not set (the creation timestamp, an empty status), which an apply
// would otherwise claim. intent identifies the configuration: the same
// intent means the same apply.
//
// The builders set explicitly every field whose zero value means something
// (replicas 0 while a volume grows offline), so dropping nulls loses nothing.
func Configuration(obj client.Object, scheme *runtime.Scheme) (cfg *unstructured.Unstructured, intent string, err error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return nil, "", fmt.Errorf("finding the kind of %T %s: %w", obj, obj.GetName(), err)
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, "", fmt.Errorf("converting %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	delete(raw, "status")
	if md, ok := raw["metadata"].(map[string]any); ok {
		for _, f := range []string{"creationTimestamp", "resourceVersion", "uid", "generation", "managedFields"} {
			delete(md, f)
		}
	}
	dropNulls(raw)
	cfg = &unstructured.Unstructured{Object: raw}
	cfg.SetGroupVersionKind(gvk)
	sum, err := hashOf(cfg.Object)
	if err != nil {
		return nil, "", fmt.Errorf("hashing %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return cfg, sum, nil
}

// dropNulls removes null values at every depth: a typed object's nil
// pointer or zero time, never a value the builder chose.
func dropNulls(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			dropNulls(e)
		}
	case []any:
		for _, e := range t {
			dropNulls(e)
		}
	}
}

// Fingerprint identifies what of a live object an apply by manager would
// look at: the fields manager owns and their values (client-go's Extract,
// the read half of an apply). Another controller's write elsewhere (the
// Deployment controller's revision annotation, any status) leaves it as it
// is; an edit of one of manager's fields, or a field taken over by another
// manager, changes it.
func Fingerprint(obj client.Object, manager string) (string, error) {
	var (
		owned any
		err   error
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		owned, err = appsv1ac.ExtractDeployment(o, manager)
	case *corev1.Service:
		owned, err = corev1ac.ExtractService(o, manager)
	case *corev1.ServiceAccount:
		owned, err = corev1ac.ExtractServiceAccount(o, manager)
	case *corev1.Secret:
		owned, err = corev1ac.ExtractSecret(o, manager)
	case *corev1.PersistentVolumeClaim:
		owned, err = corev1ac.ExtractPersistentVolumeClaim(o, manager)
	case *rbacv1.Role:
		owned, err = rbacv1ac.ExtractRole(o, manager)
	case *rbacv1.RoleBinding:
		owned, err = rbacv1ac.ExtractRoleBinding(o, manager)
	default:
		return "", fmt.Errorf("no apply configuration for %T", obj)
	}
	if err != nil {
		return "", fmt.Errorf("reading the fields %s owns in %s: %w", manager, obj.GetName(), err)
	}
	return hashOf(owned)
}

func hashOf(v any) (string, error) {
	b, err := json.Marshal(v) // maps marshal with sorted keys: stable
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// LastChangedBy names the manager, other than self, whose write to the
// object (not to its status) is the most recent: who most likely made the
// edit an apply reverts. "" when there is none.
func LastChangedBy(obj client.Object, self string) string {
	var latest *metav1.ManagedFieldsEntry
	for i := range obj.GetManagedFields() {
		e := &obj.GetManagedFields()[i]
		if e.Manager == self || e.Subresource == "status" || e.Time == nil {
			continue
		}
		if latest == nil || latest.Time.Before(e.Time) {
			latest = e
		}
	}
	if latest == nil {
		return ""
	}
	return latest.Manager
}
