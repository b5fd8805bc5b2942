package agent

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSetLeaseHeld: /readyz and the lease-held gauge follow the one
// setter together.
func TestSetLeaseHeld(t *testing.T) {
	h := &health{metrics: newMetrics(prometheus.NewRegistry()), up: make(chan struct{})}
	for _, held := range []bool{true, false} {
		h.setLeaseHeld(held)
		want := 0.0
		if held {
			want = 1
		}
		if h.leaseHeld.Load() != held || testutil.ToFloat64(h.metrics.leaseHeld) != want {
			t.Errorf("setLeaseHeld(%v): flag %v, gauge %v", held, h.leaseHeld.Load(), testutil.ToFloat64(h.metrics.leaseHeld))
		}
	}
	rec := httptest.NewRecorder()
	h.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz without the Lease = %d, want 503", rec.Code)
	}
}
