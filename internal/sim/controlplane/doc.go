// Package controlplane boots the real Kubernetes control plane of the
// simulated cluster from the binaries hack/testbin builds: etcd,
// kube-apiserver, kube-controller-manager (every default controller,
// including node-lifecycle, taint-eviction and attach/detach) and
// kube-scheduler, all bound to 127.0.0.1 on free ports in one work directory.
//
// It generates its own CA, serving certificate, admin client certificate and
// service-account key, because the token, root-CA and service-account
// controllers need them just as on a real cluster.
package controlplane
