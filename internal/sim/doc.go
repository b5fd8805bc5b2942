// Package sim runs a simulated Kubernetes cluster on this machine: the real
// control plane (etcd, kube-apiserver, kube-controller-manager with every
// default controller, kube-scheduler) from hack/testbin's binaries, N
// simulated nodes, and a simulated replicated block store. Only kubelets and
// storage are simulated, so the real controllers decide everything and show
// their real timings and failure modes (pods stuck Terminating on a dead
// node, Multi-Attach errors, the 6-minute force detach).
//
// A node is four things: a kwok process (its heartbeat: node Lease and
// conditions, with transition times as a kubelet writes them), an
// in-process simulated kubelet (package kubelet: pod status, volume
// attach/mount gating, container restarts), its own TCP proxy to the API
// server, and its peer gateway, an HTTP proxy that routes the other nodes'
// IPs to 127.0.0.1 (package netproxy; network.go). Processes can run "on" a
// node (Node.StartProcess, or Options.Runner for pod containers); they
// die, freeze and lose the network with it, and get HTTP(S)_PROXY for the
// peer gateway. Clients on no node (the operator) get a proxy of their own
// (Cluster.ClientKubeconfig); the control plane and the test's own client
// go direct.
//
// Chaos: Node.Kill, Freeze, Thaw, Partition (API server and peers),
// PartitionFromAPIServer, PartitionFromPeers, Heal, BringBack,
// SetAPILatency; Cluster.FreezeAPIServer/ThawAPIServer,
// CutAPIServer/HealAPIServer, SetAPILatency, CutPeers/HealPeers,
// DeletePod, CrashContainer, Drain. Cluster.Exec is `kubectl exec`: a
// command in a container (the runner says how, ContainerProcess.Exec) that
// fails as the API server's path to the kubelet does. Observers live in
// package observe.
// Every process is killed by PID and the work directory removed on Stop;
// tests call Stop from t.Cleanup.
package sim
