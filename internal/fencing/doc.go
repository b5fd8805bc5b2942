// Package fencing decides, from what the operator observed, whether the pod
// running an instance's IRIS is dead, and what to do so that its replacement
// can start without ever making a second writer (invariant W1). It is pure:
// no client, no clock of its own; the failover controller gathers the
// Observation and carries out the Actions.
package fencing
