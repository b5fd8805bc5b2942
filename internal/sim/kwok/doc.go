// Package kwok runs one kwok process per simulated node: kwok keeps the
// node's Lease and Ready condition fresh (the kubelet's heartbeat), so
// SIGKILLing the process is a dead node and SIGSTOPping it a frozen one.
// Pods are left to the simulated kubelet (package kubelet): kwok gets only
// node stages, so it never touches pods.
package kwok
