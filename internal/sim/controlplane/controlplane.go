package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/irisha/irisha/internal/sim/proc"
	"github.com/irisha/irisha/internal/testbin"
)

// readyTimeout bounds how long one component may take to become ready.
const readyTimeout = 2 * time.Minute

// Config of the control plane.
type Config struct {
	// Dir is an existing directory for data, certificates and logs.
	Dir string
	// Registry records every started process.
	Registry *proc.Registry
	// NodeMonitorGracePeriod, NodeMonitorPeriod, NodeStartupGracePeriod are
	// passed to kube-controller-manager's node-lifecycle controller.
	NodeMonitorGracePeriod time.Duration
	NodeMonitorPeriod      time.Duration
	NodeStartupGracePeriod time.Duration
	// DefaultTolerationSeconds is what the DefaultTolerationSeconds
	// admission plugin gives every pod for the not-ready and unreachable
	// NoExecute taints.
	DefaultTolerationSeconds int64
	// ControllerManagerQPS, when positive, is kube-controller-manager's
	// --kube-api-qps (burst 1.5 times it, as the defaults 20/30); zero keeps
	// Kubernetes' default. Every controller's client has its own budget.
	ControllerManagerQPS int
	// AuditLog makes the API server record every request (metadata only:
	// who, what, when, how long) in Dir/audit.log as JSON lines. It costs
	// the API server CPU: for finding where time goes, not for figures.
	AuditLog bool
	Log      logr.Logger
}

// auditPolicy records the metadata of every request once it completed.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

// ControlPlane is a running etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler.
type ControlPlane struct {
	// APIServerAddr is the API server's 127.0.0.1:port.
	APIServerAddr string
	// RESTConfig reaches the API server directly as a cluster admin.
	RESTConfig *rest.Config
	// AdminKubeconfig is the path of a kubeconfig equal to RESTConfig.
	AdminKubeconfig string

	dir       string
	files     map[string]string
	pki       *pki
	procs     []*proc.Process
	apiserver *proc.Process
}

// Start boots the control plane and waits until the API server is ready.
// On error it kills whatever it had started.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	bins, err := testbin.Dir()
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{dir: cfg.Dir}
	if err := cp.boot(ctx, cfg, bins); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	cfg.Log.Info("Control plane ready", "apiserver", cp.APIServerAddr, "dir", cfg.Dir)
	return cp, nil
}

func (cp *ControlPlane) boot(ctx context.Context, cfg Config, bins string) error {
	var err error
	if cp.pki, err = newPKI(); err != nil {
		return err
	}
	pkiDir := filepath.Join(cfg.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", pkiDir, err)
	}
	if cp.files, err = cp.pki.write(pkiDir); err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdClient := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	etcdPeer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	cp.APIServerAddr = "127.0.0.1:" + strconv.Itoa(ports[2])

	etcd, err := cp.start(cfg, bins, testbin.Etcd,
		"--name=default",
		"--data-dir="+filepath.Join(cfg.Dir, "etcd"),
		"--listen-client-urls="+etcdClient,
		"--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer,
		"--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=default="+etcdPeer,
		// Throw-away data: fsync only costs time on a 2-core machine.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, etcd, cp.LogPath(etcd.Name), etcdClient+"/health"); err != nil {
		return err
	}
	tol := strconv.FormatInt(cfg.DefaultTolerationSeconds, 10)
	apiserverArgs := []string{
		"--etcd-servers=" + etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[2]),
		"--tls-cert-file=" + cp.files["apiserver.crt"],
		"--tls-private-key-file=" + cp.files["apiserver.key"],
		"--client-ca-file=" + cp.files["ca.crt"],
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + cp.files["sa.pub"],
		"--service-account-signing-key-file=" + cp.files["sa.key"],
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--default-not-ready-toleration-seconds=" + tol,
		"--default-unreachable-toleration-seconds=" + tol,
		"--profiling=false",
		// The kubernetes Service cannot point at a loopback address, and no
		// simulated pod needs it.
		"--endpoint-reconciler-type=none",
	}
	if cfg.AuditLog {
		policy := filepath.Join(cfg.Dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return fmt.Errorf("writing the audit policy: %w", err)
		}
		apiserverArgs = append(apiserverArgs, "--audit-policy-file="+policy,
			"--audit-log-path="+filepath.Join(cfg.Dir, "audit.log"), "--audit-log-format=json")
	}
	apiserver, err := cp.start(cfg, bins, testbin.KubeAPIServer, apiserverArgs...)
	if err != nil {
		return err
	}
	cp.apiserver = apiserver
	cp.RESTConfig = &rest.Config{
		Host: "https://" + cp.APIServerAddr,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: cp.pki.caCert, CertData: cp.pki.adminCert, KeyData: cp.pki.adminKey,
		},
		QPS: 100, Burst: 200,
	}
	if err := cp.waitAPIServer(ctx, apiserver); err != nil {
		return err
	}
	cp.AdminKubeconfig = filepath.Join(cfg.Dir, "kubeconfig")
	if err := cp.WriteKubeconfig(cp.AdminKubeconfig, cp.APIServerAddr); err != nil {
		return err
	}
	kcm := []string{"--kubeconfig=" + cp.AdminKubeconfig,
		"--controllers=*",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file=" + cp.files["sa.key"],
		"--root-ca-file=" + cp.files["ca.crt"],
		"--cluster-signing-cert-file=" + cp.files["ca.crt"],
		"--cluster-signing-key-file=" + cp.files["ca.key"],
		"--node-monitor-grace-period=" + cfg.NodeMonitorGracePeriod.String(),
		"--node-monitor-period=" + cfg.NodeMonitorPeriod.String(),
		"--node-startup-grace-period=" + cfg.NodeStartupGracePeriod.String(),
	}
	if q := cfg.ControllerManagerQPS; q > 0 {
		kcm = append(kcm, "--kube-api-qps="+strconv.Itoa(q), "--kube-api-burst="+strconv.Itoa(q*3/2))
	}
	if _, err := cp.start(cfg, bins, testbin.KubeControllerManager, kcm...); err != nil {
		return err
	}
	if _, err := cp.start(cfg, bins, testbin.KubeScheduler,
		"--kubeconfig="+cp.AdminKubeconfig,
		"--authentication-kubeconfig="+cp.AdminKubeconfig,
		"--authorization-kubeconfig="+cp.AdminKubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
	); err != nil {
		return err
	}
	return nil
}

func (cp *ControlPlane) start(cfg Config, bins, name string, args ...string) (*proc.Process, error) {
	cmd := exec.Command(filepath.Join(bins, name), args...)
	cmd.Dir = cfg.Dir
	p, err := proc.Start(cfg.Registry, name, cmd, cp.LogPath(name))
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, p)
	return p, nil
}

// LogPath is where a component's output goes.
func (cp *ControlPlane) LogPath(name string) string {
	return filepath.Join(cp.dir, name+".log")
}

// APIServer is the kube-apiserver process (to freeze it: every client's
// requests hang, as with an endpoint that stopped answering).
func (cp *ControlPlane) APIServer() *proc.Process { return cp.apiserver }

// Processes of the control plane, in start order.
func (cp *ControlPlane) Processes() []*proc.Process { return cp.procs }

// Stop kills the components, newest first.
func (cp *ControlPlane) Stop() error {
	var errs []error
	for i := len(cp.procs) - 1; i >= 0; i-- {
		if err := cp.procs[i].Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// WriteKubeconfig writes an admin kubeconfig for server (host:port) to
// path. Node proxies use it with their own address.
func (cp *ControlPlane) WriteKubeconfig(path, server string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["sim"] = &clientcmdapi.Cluster{Server: "https://" + server, CertificateAuthorityData: cp.pki.caCert}
	cfg.AuthInfos["sim-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cp.pki.adminCert, ClientKeyData: cp.pki.adminKey}
	cfg.Contexts["sim"] = &clientcmdapi.Context{Cluster: "sim", AuthInfo: "sim-admin"}
	cfg.CurrentContext = "sim"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// RESTConfigVia is RESTConfig with another server address (a node proxy).
func (cp *ControlPlane) RESTConfigVia(server string) *rest.Config {
	c := rest.CopyConfig(cp.RESTConfig)
	c.Host = "https://" + server
	return c
}

func (cp *ControlPlane) waitAPIServer(ctx context.Context, p *proc.Process) error {
	cs, err := kubernetes.NewForConfig(cp.RESTConfig)
	if err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	return waitUntil(ctx, p, cp.LogPath(p.Name), func(ctx context.Context) bool {
		res := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx)
		var code int
		res.StatusCode(&code)
		return res.Error() == nil && code == http.StatusOK
	})
}

func waitHTTP(ctx context.Context, p *proc.Process, logPath, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return waitUntil(ctx, p, logPath, func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// waitUntil polls ok while the process runs. Polling is right here: a
// starting server has nothing to watch.
func waitUntil(ctx context.Context, p *proc.Process, logPath string, ok func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok(ctx) {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before becoming ready (%v): %s", p.Name, p.Err(), tail(logPath, 5))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", p.Name, ctx.Err())
		case <-tick.C:
		}
	}
}

// freePorts asks the kernel for n free 127.0.0.1 ports. Another process
// could take one before it is used; Start then fails with a clear log.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail returns the last n lines of a log, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "no log: " + err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
