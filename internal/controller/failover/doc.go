// Package failover is the operator's failover controller: it watches an
// instance's pods, fencing Lease, nodes and volume attachments, asks package
// fencing what to conclude, and carries out the fencing steps, each of them
// idempotent and resumable from status.lastFailover after a restart.
package failover

// FieldManager is the failover controller's name in managedFields: its
// patches of pods, nodes, Leases and the instance's status.fencing and
// lastFailover are recorded under it.
const FieldManager = "irisha-failover"
