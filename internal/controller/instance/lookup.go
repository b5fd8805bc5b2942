package instance

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/resources"
)

// clientLookup reads referenced ConfigMaps and Secrets through the manager's
// cached client.
type clientLookup struct{ client.Reader }

var _ resources.Lookup = clientLookup{}

func (l clientLookup) ConfigMapData(ctx context.Context, namespace, name string) (map[string]string, error) {
	cm := &corev1.ConfigMap{}
	if err := l.get(ctx, "ConfigMap", namespace, name, cm); err != nil {
		return nil, err
	}
	return cm.Data, nil
}

func (l clientLookup) SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	s := &corev1.Secret{}
	if err := l.get(ctx, "Secret", namespace, name, s); err != nil {
		return nil, err
	}
	return s.Data, nil
}

// get reads namespace/name into obj; a missing object is the
// resources.RefError of resources.NotFound.
func (l clientLookup) get(ctx context.Context, kind, namespace, name string, obj client.Object) error {
	if err := l.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return resources.NotFound(kind, namespace, name)
		}
		return fmt.Errorf("getting %s %s/%s: %w", kind, namespace, name, err)
	}
	return nil
}
