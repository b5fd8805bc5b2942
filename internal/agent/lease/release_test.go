package lease_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/irisha/irisha/internal/agent/lease"
)

// TestReleaseCarriesAnnotations: a planned restart's report must reach the
// operator on the release, the last write before the agent exits.
func TestReleaseCarriesAnnotations(t *testing.T) {
	api := newFakeAPI(t)
	report := "before"
	l, err := lease.New(lease.Config{Namespace: testNamespace, Name: testLease, Identity: testIdentity,
		Timing:      lease.DefaultTiming(10 * time.Second),
		Annotations: func() map[string]string { return map[string]string{"irisha.dev/config-merge": report} },
	}, api.client(), testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	report = "restarting"
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	api.store.mu.Lock()
	defer api.store.mu.Unlock()
	got := api.store.lease
	if got.Spec.HolderIdentity != nil || got.Annotations["irisha.dev/config-merge"] != "restarting" {
		t.Errorf("after the release: holder %v, annotations %v", got.Spec.HolderIdentity, got.Annotations)
	}
}
