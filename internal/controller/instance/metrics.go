package instance

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Metrics of the IrisInstance controller.
type Metrics struct {
	ready *prometheus.GaugeVec
	usage *prometheus.GaugeVec
}

// NewMetrics registers the instance metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		// The Ready condition as a series, so that an alert can say which
		// instance is down: the agent's own metrics vanish with its pod,
		// exactly when the instance is down for good (a lost node).
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "irisha_instance_ready", Help: "1 while the instance's Ready condition is True (IRIS runs and accepts connections in its pod), 0 otherwise.",
		}, []string{"namespace", "instance"}),
		usage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "irisha_volume_usage_ratio",
			Help: "Part of the instance's data volume in use (0 to 1), as its agent last measured it.",
		}, []string{"namespace", "instance"}),
	}
	reg.MustRegister(m.ready, m.usage)
	return m
}

func (m *Metrics) setUsage(inst *v1alpha1.IrisInstance, ratio float64) {
	if m != nil {
		m.usage.WithLabelValues(inst.Namespace, inst.Name).Set(ratio)
	}
}

func (m *Metrics) setReady(inst *v1alpha1.IrisInstance, ready bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.WithLabelValues(inst.Namespace, inst.Name).Set(v)
}

func (m *Metrics) forget(namespace, name string) {
	if m == nil {
		return
	}
	m.ready.DeleteLabelValues(namespace, name)
	m.usage.DeleteLabelValues(namespace, name)
}
