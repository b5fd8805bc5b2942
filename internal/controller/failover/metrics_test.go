package failover

import (
	"testing"

	"github.com/irisha/irisha/api/v1alpha1"
)

// TestNilMetricsAndRecorder: like the instance controller's, the failover
// controller's Metrics and Recorder may be left nil (tests) without a panic.
func TestNilMetricsAndRecorder(t *testing.T) {
	var m *Metrics
	inst := &v1alpha1.IrisInstance{}
	m.setVerdict(inst, v1alpha1.FencingVerdict("Healthy"))
	m.forget("ns", "i")
	m.failoverStarted("LeaseExpired")
	m.failoverDone(1)
	(&Reconciler{}).event(inst, "Normal", "Reason", "Action", "%s", "note")
	(&NodeReconciler{}).event(nil, "Normal", "Reason", "Action", "%s", "note")
}
