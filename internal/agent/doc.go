// Package agent is `irisha-manager agent run`: PID 1 of the IRIS container.
// It takes the instance's fencing Lease before IRIS starts, supervises
// iris-main (signals, zombies, exit code), serves the probes and metrics, and
// stops IRIS hard when the Lease is lost, so that at most one IRIS writes to
// the volume (W1: docs/failover.md, "The protocol").
package agent
