package operator

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"time"

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
