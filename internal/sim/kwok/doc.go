// Package kwok runs one kwok process per simulated node: kwok keeps the
// node's Lease and conditions fresh (the kubelet's heartbeat), so
// SIGKILLing the process is a dead node and SIGSTOPping it a frozen one.
// Pods are left to the simulated kubelet (package kubelet): kwok gets only
// node stages, so it never touches pods. The stages (stages/) are kwok
// v0.8.0's node-initialize and node-heartbeat-with-lease, changed to write
// each condition's lastTransitionTime as a kubelet does (kept while the
// status stays, the time of the write when it changes) instead of the
// node's creationTimestamp, with the status period configurable
// (Config.StatusPeriod); TestStagesFollowUpstream checks that nothing else
// differs from the kwok the sim runs.
package kwok
