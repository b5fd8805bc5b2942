package failover

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/irisha/irisha/api/v1alpha1"
)

var verdicts = []v1alpha1.FencingVerdict{v1alpha1.FencingHealthy, v1alpha1.FencingSuspect, v1alpha1.FencingConfirmedDead, v1alpha1.FencingFenced}

// Metrics of the failover controller.
type Metrics struct {
	failovers *prometheus.CounterVec
	duration  prometheus.Histogram
	state     *prometheus.GaugeVec
}

// NewMetrics registers the failover metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "irisha_failovers_total", Help: "Failovers the operator started, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "irisha_failover_duration_seconds",
			Help:    "From the old pod declared dead to a replacement Ready.",
			Buckets: []float64{1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300},
		}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "irisha_fencing_state", Help: "1 for the instance's current fencing verdict, 0 for the others.",
		}, []string{"namespace", "instance", "verdict"}),
	}
	reg.MustRegister(m.failovers, m.duration, m.state)
	return m
}

// The methods do nothing on a nil *Metrics (tests), as the instance
// controller's do.

func (m *Metrics) setVerdict(inst *v1alpha1.IrisInstance, v v1alpha1.FencingVerdict) {
	if m == nil {
		return
	}
	for _, each := range verdicts {
		value := 0.0
		if each == v {
			value = 1
		}
		m.state.WithLabelValues(inst.Namespace, inst.Name, string(each)).Set(value)
	}
}

func (m *Metrics) forget(namespace, name string) {
	if m == nil {
		return
	}
	m.state.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "instance": name})
}

func (m *Metrics) failoverStarted(reason string) {
	if m != nil {
		m.failovers.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) failoverDone(seconds float64) {
	if m != nil {
		m.duration.Observe(seconds)
	}
}
