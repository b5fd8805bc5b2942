package backup

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/irisha/irisha/api/v1alpha1"
)

// Metrics of the backup controllers.
type Metrics struct {
	// LastSuccess is the time the newest Completed backup of an instance
	// completed: alert when it is too old.
	LastSuccess *prometheus.GaugeVec
	// Frozen is how long IRIS stayed frozen for a backup.
	Frozen *prometheus.HistogramVec
	// Results counts the backups that ended, by result.
	Results *prometheus.CounterVec
}

// NewMetrics registers the backup metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "irisha_backup_last_success_timestamp_seconds",
			Help: "Unix time at which the newest Completed IrisBackup of the instance completed.",
		}, []string{"namespace", "instance"}),
		Frozen: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "irisha_backup_frozen_seconds",
			Help: "How long IRIS's write daemon stayed frozen for a backup.",
			// The goal is under a second; IRIS's own limit is minutes.
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}, []string{"namespace", "instance"}),
		Results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "irisha_backups_total",
			Help: "IrisBackups that ended, by result (completed or failed).",
		}, []string{"namespace", "instance", "result"}),
	}
	reg.MustRegister(m.LastSuccess, m.Frozen, m.Results)
	return m
}

// ended records a backup that just ended.
func (m *Metrics) ended(b *v1alpha1.IrisBackup) {
	if m == nil {
		return
	}
	ns, inst := b.Namespace, b.Spec.InstanceName
	if b.Status.FrozenSeconds != "" {
		if s, err := strconv.ParseFloat(b.Status.FrozenSeconds, 64); err == nil {
			m.Frozen.WithLabelValues(ns, inst).Observe(s)
		}
	}
	if b.Status.Phase != v1alpha1.BackupCompleted {
		m.Results.WithLabelValues(ns, inst, "failed").Inc()
		return
	}
	m.Results.WithLabelValues(ns, inst, "completed").Inc()
	at := time.Now()
	if b.Status.StoppedAt != nil {
		at = b.Status.StoppedAt.Time
	}
	m.LastSuccess.WithLabelValues(ns, inst).Set(float64(at.UnixNano()) / 1e9)
}
