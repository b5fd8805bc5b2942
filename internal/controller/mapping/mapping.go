// Package mapping turns watched objects into the IrisInstances they belong
// to, for the controllers' watches.
package mapping

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/irisha/irisha/internal/resources"
)

// ByInstanceLabel maps an object labelled irisha.dev/instance (pods, claims,
// the fencing Lease) to its instance in the same namespace.
func ByInstanceLabel(_ context.Context, o client.Object) []reconcile.Request {
	name, ok := o.GetLabels()[resources.LabelIrisInstance]
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}
