package operator

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/irisha/irisha/internal/resources"
)

// irishaObjects selects what irisha labels as an instance's: its pods (the
// Deployment's template carries the label), the merge Secret and the
// witnesses' mirror ConfigMap.
func irishaObjects() labels.Selector {
	req, err := labels.NewRequirement(resources.LabelIrisInstance, selection.Exists, nil)
	if err != nil {
		panic(fmt.Sprintf("the instance label's selector: %v", err)) // a constant label: cannot fail
	}
	return labels.NewSelector().Add(*req)
}

// cacheOptions limits the cache to the watched namespaces, plus the ones
// the controllers read outside them: the node witnesses' namespace (the
// witness records) and kube-node-lease (the kubelets' Leases, by which the
// failover controller knows a node is back). Without a namespace list
// everything is cached, cluster-wide.
//
// Pods, Secrets and ConfigMaps are cached only when they carry the
// instance label: a cluster holds thousands of other pods and Secrets, and
// caching them costs the operator memory in proportion to the cluster
// rather than to its instances. Every pod the controllers read is an
// instance's, listed by that label; the Secrets and ConfigMaps a user
// references (spec.config.configMapRef, spec.passwordSecret,
// spec.licenseKeySecret) carry no label of ours, so the instance
// controller watches their metadata in a cache of their own
// (referencesCache) and reads their content past the cache. The witness
// membership ConfigMap is read and written past the cache too
// (witnesses.Observer).
//
// managedFields are dropped from the cached objects irisha does not apply
// (pods above all): they are often a third of an object's size, and an
// update sent without them keeps the server's (the API server ignores an
// empty list). The kinds the instance controller server-side applies keep
// them: which fields its field manager owns is how it tells an edit to
// revert, and who made it (instance.applyOwned).
func cacheOptions(opts Options) cache.Options {
	keep := toolscache.TransformFunc(func(o any) (any, error) { return o, nil })
	applied := cache.ByObject{Transform: keep}
	o := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:       {Label: irishaObjects()},
			&corev1.ConfigMap{}: {Label: irishaObjects()},
			&corev1.Secret{}:    {Label: irishaObjects(), Transform: keep},

			&appsv1.Deployment{}:            applied,
			&corev1.Service{}:               applied,
			&corev1.ServiceAccount{}:        applied,
			&corev1.PersistentVolumeClaim{}: applied,
			&rbacv1.Role{}:                  applied,
			&rbacv1.RoleBinding{}:           applied,
		},
	}
	if len(opts.WatchNamespaces) == 0 {
		return o
	}
	namespaces := map[string]cache.Config{corev1.NamespaceNodeLease: {}}
	for _, ns := range opts.WatchNamespaces {
		namespaces[ns] = cache.Config{}
	}
	if opts.WitnessNamespace != "" {
		namespaces[opts.WitnessNamespace] = cache.Config{}
	}
	o.DefaultNamespaces = namespaces
	return o
}

// referencesOptions are those of the cache of the referenced ConfigMaps'
// and Secrets' metadata: every one in the watched namespaces, since any may
// be referenced, but metadata only (the instance controller watches it
// with metav1.PartialObjectMetadata), which is what a change wakes the
// referencing instances by. A ConfigMap's or Secret's data never enters a
// cache unless irisha labelled the object. A second cache, because a
// cache's options are per kind: the manager's would apply its label
// selector to this watch too.
func referencesOptions(opts Options, mgr manager.Manager) cache.Options {
	o := cache.Options{
		HTTPClient: mgr.GetHTTPClient(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if len(opts.WatchNamespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.WatchNamespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// referencesCache is run by the manager as one of its caches (GetCache):
// started before the controllers, which wait for it to sync.
type referencesCache struct{ cache.Cache }

func (c referencesCache) GetCache() cache.Cache { return c.Cache }

// newReferencesCache creates the cache of referencesOptions and adds it to
// mgr.
func newReferencesCache(mgr manager.Manager, opts Options) (cache.Cache, error) {
	c, err := cache.New(mgr.GetConfig(), referencesOptions(opts, mgr))
	if err != nil {
		return nil, fmt.Errorf("creating the cache of referenced ConfigMaps and Secrets: %w", err)
	}
	if err := mgr.Add(referencesCache{c}); err != nil {
		return nil, fmt.Errorf("adding the cache of referenced ConfigMaps and Secrets: %w", err)
	}
	return c, nil
}
