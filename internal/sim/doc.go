// Package sim runs a simulated Kubernetes cluster on this machine: the real
// control plane (etcd, kube-apiserver, kube-controller-manager with every
// default controller, kube-scheduler) from hack/testbin's binaries, N
// simulated nodes, and a simulated replicated block store. Only kubelets and
// storage are simulated, so the real controllers decide everything and show
// their real timings and failure modes (pods stuck Terminating on a dead
// node, Multi-Attach errors, the 6-minute force detach).
//
// A node is three things: a kwok process (its heartbeat: node Lease and
// Ready condition), an in-process simulated kubelet (package kubelet: pod
// status, volume attach/mount gating, container restarts), and its own TCP
// proxy to the API server (package netproxy). Processes can run "on" a node
// (Node.StartProcess, or Options.Runner for pod containers); they die,
// freeze and lose the network with it.
//
// Chaos: Node.Kill, Freeze, Thaw, Partition, Heal, BringBack;
// Cluster.DeletePod, CrashContainer, Drain. Observers live in package
// observe. Every process is killed by PID and the work directory removed
// on Stop; tests call Stop from t.Cleanup.
package sim
