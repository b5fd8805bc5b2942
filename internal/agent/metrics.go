package agent

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/irisha/irisha/internal/agent/backup"
	"github.com/irisha/irisha/internal/iris"
)

// metrics the agent exports on /metrics.
type metrics struct {
	leaseHeld   prometheus.Gauge
	fenced      prometheus.Counter
	irisUp      prometheus.Gauge
	irisState   *prometheus.GaugeVec
	irisDown    prometheus.Counter
	checkErrors prometheus.Counter
	// backup is the backup participant's: frozen and deadline thaws.
	backup backup.Metrics
	// wasUp is read and written by concurrent probes.
	wasUp atomic.Bool
}

// newRegistry is what the agent serves on /metrics: the Go and process
// collectors and the agent's own metrics.
func newRegistry() (*prometheus.Registry, *metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, newMetrics(reg)
}

// Registry returns a registry of every metric the agent serves, none of
// them set: the monitoring checks (hack/manifests) learn from it which
// names the dashboard and the alerts may use.
func Registry() *prometheus.Registry {
	reg, _ := newRegistry()
	return reg
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		leaseHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "irisha_agent_lease_held", Help: "1 while the agent holds the instance's fencing Lease.",
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "irisha_agent_fenced_total", Help: "Times the agent stopped IRIS hard because it lost the fencing Lease.",
		}),
		irisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "irisha_agent_iris_up", Help: "1 when the last qlist said IRIS is running.",
		}),
		irisState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "irisha_agent_iris_state", Help: "1 for the state the last qlist reported (running, down, sign-on inhibited, transition, unknown).",
		}, []string{"state"}),
		irisDown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "irisha_agent_iris_down_transitions_total", Help: "Times IRIS was seen stopping after it had run (restarts, crashes).",
		}),
		checkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "irisha_agent_iris_check_errors_total", Help: "qlist calls that failed or timed out (a hung IRIS).",
		}),
		backup: backup.Metrics{
			Frozen: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "irisha_agent_frozen", Help: "1 while the agent holds IRIS's write daemon frozen for a backup.",
			}),
			DeadlineThaws: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "irisha_agent_deadline_thaws_total", Help: "Freezes the agent ended on its own at the backup's thaw deadline (nobody asked for the thaw in time).",
			}),
		},
	}
	reg.MustRegister(m.leaseHeld, m.fenced, m.irisUp, m.irisState, m.irisDown, m.checkErrors, m.backup.Frozen, m.backup.DeadlineThaws)
	return m
}

func (m *metrics) observeIris(inst iris.Instance) {
	for _, s := range []iris.Status{iris.StatusRunning, iris.StatusDown, iris.StatusSignOnInhibited, iris.StatusTransition, iris.StatusUnknown} {
		v := 0.0
		if inst.Status == s {
			v = 1
		}
		m.irisState.WithLabelValues(string(s)).Set(v)
	}
	up := inst.Running()
	if m.wasUp.Swap(up) && !up {
		m.irisDown.Inc()
	}
	if up {
		m.irisUp.Set(1)
	} else {
		m.irisUp.Set(0)
	}
}

func (m *metrics) observeIrisError() {
	m.checkErrors.Inc()
	m.irisUp.Set(0)
}
