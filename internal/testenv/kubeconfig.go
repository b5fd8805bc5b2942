package testenv

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// KubeconfigVia writes a kubeconfig that reaches the API server through
// host:port (a Proxy), with the environment's admin credentials, and returns
// its path.
func (e *Env) KubeconfigVia(hostPort, name string) (string, error) {
	return e.writeKubeconfig(hostPort, name, e.Config)
}

// UserKubeconfigVia is KubeconfigVia for a new user of that name in no
// group: it may do only what RBAC grants it, as a pod's service account.
func (e *Env) UserKubeconfigVia(hostPort, user string) (string, error) {
	u, err := e.env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		return "", fmt.Errorf("adding user %s: %w", user, err)
	}
	return e.writeKubeconfig(hostPort, "user-"+user, u.Config())
}

func (e *Env) writeKubeconfig(hostPort, name string, c *rest.Config) (string, error) {
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
