// Package doctor is `irisha doctor`: it checks that the cluster of the
// current kubeconfig can run IRIS highly available the way irisha does —
// enough nodes and zones, a StorageClass that replicates across nodes (not
// the node-local trap that strands a volume on a dead node), expansion,
// VolumeSnapshot support, Longhorn's settings that matter for failover and
// backups, the out-of-service taint, the operator — and says for each
// finding how bad it is, what it breaks and how to fix it.
//
// It is split the way it can be tested without a cluster: gather.go reads
// the objects into a Snapshot (the only code that reads the API server),
// the rules (rules.go and the files named after their concern) are pure
// functions from a Snapshot to Findings, text.go draws a Report, and
// bench.go runs the optional storage bench (a scratch claim and a pod
// running the hidden `irisha-manager fsbench`, see package fsbench).
package doctor
