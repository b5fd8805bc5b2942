package testenv

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeconfigVia writes a kubeconfig that reaches the API server through
// host:port (a Proxy), with the environment's admin credentials, and returns
// its path.
func (e *Env) KubeconfigVia(hostPort, name string) (string, error) {
	c := e.Config
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: "https://" + hostPort, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, Token: c.BearerToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	cfg.CurrentContext = "test"
	path := filepath.Join(e.dir, "kubeconfig-"+name)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// APIServerHostPort is the API server's address.
func (e *Env) APIServerHostPort() string {
	return e.env.ControlPlane.APIServer.SecureServing.Address + ":" + e.env.ControlPlane.APIServer.SecureServing.Port
}

// Dir is a scratch directory removed by Stop.
func (e *Env) Dir() string { return e.dir }
