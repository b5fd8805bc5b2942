package instance

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/resources"
)

// clientLookup reads referenced ConfigMaps and Secrets through the
// reconciler's client, which reads them past the cache
// (readingPastTheCache).
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

// RBAC: get, for the reads past the cache (readingPastTheCache).
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get

// readingPastTheCache is the reconciler's client: a ConfigMap or Secret
// the cache does not hold is read from the API server. The manager's cache
// may hold only irisha's labelled ones (internal/operator's cacheOptions),
// and the referenced ones are the user's. An object the cache holds is
// read from it (the merge Secret, at every reconcile); one it misses costs
// a GET: a referenced one at every reconcile of an instance that
// references it, an instance's own object only until it is created, or
// when something unlabelled of its name is in the way, which is then found
// and reported as a conflict rather than failing the create.
type readingPastTheCache struct {
	client.Client
	direct client.Reader
}

func (c readingPastTheCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, key, obj, opts...)
	if !apierrors.IsNotFound(err) {
		return err
	}
	switch obj.(type) {
	case *corev1.ConfigMap, *corev1.Secret:
		return c.direct.Get(ctx, key, obj, opts...)
	}
	return err
}
