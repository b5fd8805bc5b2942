// Package monitoring checks the alerts and the Grafana dashboard of
// config/monitoring against the metrics the operator and the agent export,
// and docs/metrics.md against them.
package monitoring
