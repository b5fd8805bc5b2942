package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// CreateNamespace creates a namespace and waits for its default service
// account (so pods can be created at once).
func (c *Cluster) CreateNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.client.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return waitForServiceAccount(ctx, c.clientset, name)
}

// Create creates every object of a multi-document YAML manifest, as
// `kubectl create -n namespace -f` would (namespaced objects without a
// namespace go to namespace).
func (c *Cluster) Create(ctx context.Context, namespace string, manifests []byte) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decoding manifests: %w", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		namespaced, err := c.client.IsObjectNamespaced(u)
		if err != nil {
			return fmt.Errorf("looking up %s: %w", u.GroupVersionKind(), err)
		}
		if namespaced && u.GetNamespace() == "" {
			u.SetNamespace(namespace)
		}
		if err := c.client.Create(ctx, u); err != nil {
			return fmt.Errorf("creating %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
}
