package instance

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// ConflictError is an object irisha would create that already exists and
// belongs to something else. irisha never takes such an object over.
type ConflictError struct{ Kind, Name, Reason string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s %s already exists and %s; rename the IrisInstance or remove the %s", e.Kind, e.Name, e.Reason, e.Kind)
}

// applyOwned creates desired, or updates the live object when its hash stamp
// differs from desired's. An unchanged object costs one cached read and no
// write.
func (r *Reconciler) applyOwned(ctx context.Context, inst *v1alpha1.IrisInstance, desired client.Object) error {
	kind, live, err := r.ownAndRead(ctx, inst, desired)
	if err != nil {
		return err
	}
	if live == nil {
		if err := r.Create(ctx, desired); err != nil {
			return fmt.Errorf("creating %s %s: %w", kind, desired.GetName(), err)
		}
		r.event(inst, corev1.EventTypeNormal, "Created", "Create", "Created %s %s", kind, desired.GetName())
		return nil
	}
	if !metav1.IsControlledBy(live, inst) {
		return &ConflictError{Kind: kind, Name: desired.GetName(), Reason: "is not controlled by this IrisInstance"}
	}
	if resources.HashOf(live) == resources.HashOf(desired) {
		return nil
	}
	updated := mergeInto(live, desired)
	if err := r.Update(ctx, updated); err != nil {
		return fmt.Errorf("updating %s %s: %w", kind, desired.GetName(), err)
	}
	r.event(inst, corev1.EventTypeNormal, "Updated", "Update", "Updated %s %s", kind, desired.GetName())
	return nil
}

// createOnce creates desired if it does not exist and never updates it: the
// fencing Lease's spec belongs to the agents once it exists.
func (r *Reconciler) createOnce(ctx context.Context, inst *v1alpha1.IrisInstance, desired client.Object) error {
	kind, live, err := r.ownAndRead(ctx, inst, desired)
	if err != nil || live != nil {
		return err
	}
	if err := r.Create(ctx, desired); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s %s: %w", kind, desired.GetName(), err)
	}
	return nil
}

// ownAndRead makes inst desired's controller and reads the live object of
// the same name from the cache: nil when there is none.
func (r *Reconciler) ownAndRead(ctx context.Context, inst *v1alpha1.IrisInstance, desired client.Object) (string, client.Object, error) {
	kind := kindOf(desired)
	if err := controllerutil.SetControllerReference(inst, desired, r.Scheme); err != nil {
		return kind, nil, fmt.Errorf("owning %s %s: %w", kind, desired.GetName(), err)
	}
	live := desired.DeepCopyObject().(client.Object)
	switch err := r.Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		return kind, nil, nil
	case err != nil:
		return kind, nil, fmt.Errorf("getting %s %s: %w", kind, desired.GetName(), err)
	}
	return kind, live, nil
}

// mergeInto returns live with the fields irisha owns taken from desired and
// the ones the API server or other controllers own kept.
func mergeInto(live, desired client.Object) client.Object {
	out := live.DeepCopyObject().(client.Object)
	out.SetLabels(mergeMaps(live.GetLabels(), desired.GetLabels()))
	out.SetAnnotations(mergeMaps(live.GetAnnotations(), desired.GetAnnotations()))
	out.SetOwnerReferences(desired.GetOwnerReferences())
	switch o := out.(type) {
	case *appsv1.Deployment:
		o.Spec = desired.(*appsv1.Deployment).Spec
	case *corev1.Secret:
		o.Data = desired.(*corev1.Secret).Data
		o.Type = desired.(*corev1.Secret).Type
	case *corev1.Service:
		o.Spec = serviceSpecKeepingAllocations(o.Spec, desired.(*corev1.Service).Spec)
	case *rbacv1.Role:
		o.Rules = desired.(*rbacv1.Role).Rules
	case *rbacv1.RoleBinding:
		// roleRef is immutable and never changes for an instance.
		o.Subjects = desired.(*rbacv1.RoleBinding).Subjects
	case *corev1.ServiceAccount:
		// Only metadata is ours; token secrets belong to Kubernetes.
	}
	return out
}

// serviceSpecKeepingAllocations keeps what the API server allocated (cluster
// IPs, node ports), so an update never moves the address clients use.
func serviceSpecKeepingAllocations(live, desired corev1.ServiceSpec) corev1.ServiceSpec {
	out := desired
	out.ClusterIP = live.ClusterIP
	out.ClusterIPs = live.ClusterIPs
	out.IPFamilies = live.IPFamilies
	out.IPFamilyPolicy = live.IPFamilyPolicy
	nodePorts := map[string]int32{}
	for _, p := range live.Ports {
		nodePorts[p.Name] = p.NodePort
	}
	out.Ports = make([]corev1.ServicePort, len(desired.Ports))
	for i, p := range desired.Ports {
		if desired.Type != corev1.ServiceTypeClusterIP {
			p.NodePort = nodePorts[p.Name]
		}
		out.Ports[i] = p
	}
	if desired.Type == live.Type {
		out.HealthCheckNodePort = live.HealthCheckNodePort
	}
	return out
}

func mergeMaps(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *corev1.Secret:
		return "Secret"
	case *corev1.Service:
		return "Service"
	case *corev1.ServiceAccount:
		return "ServiceAccount"
	case *corev1.PersistentVolumeClaim:
		return "PersistentVolumeClaim"
	case *rbacv1.Role:
		return "Role"
	case *rbacv1.RoleBinding:
		return "RoleBinding"
	case *coordinationv1.Lease:
		return "Lease"
	}
	return fmt.Sprintf("%T", obj)
}
