package operator

import (
	"context"
	"crypto/tls"
	"maps"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestCacheOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		cached []string // nil: every namespace
	}{
		{name: "all namespaces", opts: Options{WitnessNamespace: "irisha-system"}},
		{name: "watched, with the node Leases'", opts: Options{WatchNamespaces: []string{"a", "b"}},
			cached: []string{"a", "b", "kube-node-lease"}},
		{name: "watched, with the witnesses' and the node Leases'", opts: Options{WatchNamespaces: []string{"a"}, WitnessNamespace: "irisha-system"},
			cached: []string{"a", "irisha-system", "kube-node-lease"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Sorted(maps.Keys(cacheOptions(tc.opts).DefaultNamespaces))
			if !slices.Equal(got, tc.cached) {
				t.Errorf("cached namespaces %q, want %q", got, tc.cached)
			}
		})
	}
}

func TestMetricsServerOptions(t *testing.T) {
	secure := metricsServerOptions(Options{MetricsAddr: ":8443", MetricsSecure: true, MetricsCertDir: "/certs"})
	if !secure.SecureServing || secure.FilterProvider == nil || secure.CertDir != "/certs" {
		t.Errorf("secure metrics: SecureServing %v, filter set %v, CertDir %q", secure.SecureServing, secure.FilterProvider != nil, secure.CertDir)
	}
	if len(secure.TLSOpts) != 1 {
		t.Fatalf("secure metrics without HTTP/2: %d TLS options, want the one that drops h2", len(secure.TLSOpts))
	}
	c := &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	secure.TLSOpts[0](c)
	if slices.Contains(c.NextProtos, "h2") {
		t.Errorf("HTTP/2 still offered: %q", c.NextProtos)
	}
	if h2 := metricsServerOptions(Options{MetricsSecure: true, EnableHTTP2: true}); len(h2.TLSOpts) != 0 {
		t.Errorf("--enable-http2 still restricts TLS")
	}
	plain := metricsServerOptions(Options{MetricsAddr: "127.0.0.1:8080"})
	if plain.SecureServing || plain.FilterProvider != nil || plain.BindAddress != "127.0.0.1:8080" {
		t.Errorf("plain metrics: SecureServing %v, filter set %v, address %q", plain.SecureServing, plain.FilterProvider != nil, plain.BindAddress)
	}
}

func TestCleanNamespaces(t *testing.T) {
	got, err := cleanNamespaces([]string{" team-a", "", "team-b "})
	if err != nil || !slices.Equal(got, []string{"team-a", "team-b"}) {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := cleanNamespaces([]string{"Team_A"}); err == nil {
		t.Error("an invalid namespace name was accepted")
	}
}

// syncer is a cache whose sync the test controls.
type syncer struct{ synced chan struct{} }

func (s syncer) WaitForCacheSync(ctx context.Context) bool {
	select {
	case <-s.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

func TestCachesSyncedCheck(t *testing.T) {
	s := syncer{synced: make(chan struct{})}
	check := cachesSynced(s)
	start := time.Now()
	if err := check(httptest.NewRequest("GET", "/readyz", nil)); err == nil {
		t.Fatal("ready before the caches synced")
	}
	if took := time.Since(start); took > 2*cacheSyncProbeTimeout {
		t.Errorf("an unsynced check took %v, want about %v", took, cacheSyncProbeTimeout)
	}
	close(s.synced)
	if err := check(httptest.NewRequest("GET", "/readyz", nil)); err != nil {
		t.Fatalf("not ready once synced: %v", err)
	}
}
