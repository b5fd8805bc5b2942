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
	if err := l.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, resources.NotFound("ConfigMap", namespace, name)
		}
		return nil, fmt.Errorf("getting ConfigMap %s/%s: %w", namespace, name, err)
	}
	return cm.Data, nil
}

func (l clientLookup) SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	s := &corev1.Secret{}
	if err := l.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, resources.NotFound("Secret", namespace, name)
		}
		return nil, fmt.Errorf("getting Secret %s/%s: %w", namespace, name, err)
	}
	return s.Data, nil
}
