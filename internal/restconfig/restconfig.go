// Package restconfig loads the Kubernetes client configuration of the
// in-pod parts of irisha (the agent and the witness).
package restconfig

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Load reads kubeconfig, or the pod's service account when it is empty, and
// names the client userAgent, so that each part's requests can be told
// apart in the API server's audit log and metrics (they are one binary).
func Load(kubeconfig, userAgent string) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if kubeconfig == "" {
		if rc, err = rest.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("loading the in-cluster config (outside a pod, pass --kubeconfig): %w", err)
		}
	} else if rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		return nil, fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	rc.UserAgent = userAgent
	return rc, nil
}
