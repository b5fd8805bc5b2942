// Package kubelet simulates the part of a kubelet that the failover story
// depends on, for one simulated node: it holds a pod in ContainerCreating
// until every CSI volume that needs attaching is reported in the node's
// status.volumesAttached (which the real attach/detach controller writes),
// reports status.volumesInUse before "mounting" and drops it after
// "unmounting" (the attach/detach controller refuses a normal detach while
// a volume is in use), projects the pod's ServiceAccount token (requested
// through the TokenRequest API, bound to the pod) so that its processes
// talk to the API server as that ServiceAccount, runs containers (as local
// processes through a ContainerRunner, or virtually; a program the image
// lacks is a StartError), runs the httpGet/tcpSocket/exec startup,
// readiness and liveness probes of process-backed containers (Ready only
// while readiness passes; a virtual container with a readiness probe is
// never Ready), restarts containers with the kubelet's crash back-off, and
// finishes graceful deletions with the final grace-0 delete.
//
// Heartbeats (node Lease and Ready condition) are kwok's job, in a separate
// process; this package writes only pod status, node volumesInUse, events
// and the final pod delete, all through the node's own API-server proxy, so
// cutting the proxy or cancelling the Run context silences the node.
package kubelet
