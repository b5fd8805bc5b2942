package operator

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// cacheSyncProbeTimeout bounds how long one readiness probe waits for the
// caches: the kubelet's probe times out after a second by default, and a
// probe that hangs tells it no more than one that fails.
const cacheSyncProbeTimeout = 500 * time.Millisecond

// metricsServerOptions serves /metrics over HTTPS behind the API server's
// authentication and authorization unless opts ask for plain HTTP.
func metricsServerOptions(opts Options) metricsserver.Options {
	o := metricsserver.Options{BindAddress: opts.MetricsAddr}
	if !opts.MetricsSecure {
		return o
	}
	o.SecureServing = true
	// Every scrape is a TokenReview and a SubjectAccessReview (cached for
	// a minute): the scraper needs a ClusterRole granting get on the
	// non-resource URL /metrics (config/rbac/metrics_reader_role.yaml),
	// the operator the right to create both reviews
	// (config/rbac/metrics_auth_role.yaml).
	o.FilterProvider = filters.WithAuthenticationAndAuthorization
	// controller-runtime watches the two files and serves the new pair
	// after a rotation; without them it makes a self-signed certificate
	// in memory, which Prometheus accepts with insecureSkipVerify.
	o.CertDir = opts.MetricsCertDir
	if !opts.EnableHTTP2 {
		o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	return o
}

// cacheOptions limits the cache to the watched namespaces, plus the ones
// the controllers read outside them: the node witnesses' namespace (the
// membership ConfigMap) and kube-node-lease (the kubelets' Leases, by
// which the failover controller knows a node is back). Without a
// namespace list everything is cached, cluster-wide.
func cacheOptions(opts Options) cache.Options {
	if len(opts.WatchNamespaces) == 0 {
		return cache.Options{}
	}
	namespaces := map[string]cache.Config{corev1.NamespaceNodeLease: {}}
	for _, ns := range opts.WatchNamespaces {
		namespaces[ns] = cache.Config{}
	}
	if opts.WitnessNamespace != "" {
		namespaces[opts.WitnessNamespace] = cache.Config{}
	}
	return cache.Options{DefaultNamespaces: namespaces}
}

// cachesSynced is the readiness check: not ready until every informer the
// controllers started has listed its objects. Until then a reconcile would
// judge from a partial world (a missing Lease, no pods), and a rolling
// update would retire the old replica before the new one can act.
func cachesSynced(c interface {
	WaitForCacheSync(context.Context) bool
}) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), cacheSyncProbeTimeout)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the caches have not synced yet")
		}
		return nil
	}
}
