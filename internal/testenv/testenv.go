// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest, on the binaries hack/testbin builds) with irisha's CRDs installed,
// and optionally the real kube-controller-manager controllers a test needs
// (garbage collector, Deployment, ReplicaSet). Integration tests use it; it
// binds only to 127.0.0.1 and stops every process it started.
package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/testbin"
)

// Options of Start.
type Options struct {
	// Controllers of kube-controller-manager to run, e.g. garbagecollector,
	// deployment, replicaset. None when empty.
	Controllers []string
	// AdmissionPlugins are enabled on top of kube-apiserver's defaults,
	// e.g. OwnerReferencesPermissionEnforcement, which OpenShift runs.
	AdmissionPlugins []string
	// AuditLog has the API server log every request's metadata to
	// Env.AuditLogPath, so that a test can see who was refused what.
	AuditLog bool
}

// auditPolicy records every request at the Metadata level: user, verb,
// resource and response code, no bodies.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
`

// Env is a running control plane.
type Env struct {
	Config     *rest.Config
	Client     client.Client
	Scheme     *runtime.Scheme
	Kubeconfig string

	env     *envtest.Environment
	kcm     *exec.Cmd
	kcmDone chan struct{}
	dir     string
}

// Start boots the control plane. Call Stop when done, also on failure.
func Start(opts Options) (*Env, error) {
	bins, err := testbin.Dir()
	if err != nil {
		return nil, err
	}
	root, err := repoRoot(bins)
	if err != nil {
		return nil, err
	}
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	e := &Env{Scheme: scheme, env: &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bins,
		Scheme:                scheme,
	}}
	if e.dir, err = os.MkdirTemp("", "irisha-testenv-"); err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}
	if err := e.configureAPIServer(opts); err != nil {
		_ = os.RemoveAll(e.dir)
		return nil, err
	}
	if e.Config, err = e.env.Start(); err != nil {
		_ = os.RemoveAll(e.dir)
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: scheme}); err != nil {
		e.Stop()
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	admin, err := e.env.AddUser(envtest.User{Name: "irisha-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		e.Stop()
		return nil, fmt.Errorf("adding an admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		e.Stop()
		return nil, fmt.Errorf("writing a kubeconfig: %w", err)
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kubeconfig, 0o600); err != nil {
		e.Stop()
		return nil, fmt.Errorf("writing a kubeconfig: %w", err)
	}
	if len(opts.Controllers) > 0 {
		if err := e.startControllerManager(bins, opts.Controllers); err != nil {
			e.Stop()
			return nil, err
		}
	}
	return e, nil
}

// configureAPIServer adds the options' flags to kube-apiserver's.
func (e *Env) configureAPIServer(opts Options) error {
	args := e.env.ControlPlane.GetAPIServer().Configure()
	if len(opts.AdmissionPlugins) > 0 {
		args.Append("enable-admission-plugins", strings.Join(opts.AdmissionPlugins, ","))
	}
	if opts.AuditLog {
		policy := filepath.Join(e.dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return fmt.Errorf("writing the audit policy: %w", err)
		}
		args.Set("audit-policy-file", policy).Set("audit-log-path", e.AuditLogPath())
	}
	return nil
}

// AuditLogPath is where the API server writes its audit log (one JSON
// audit.k8s.io/v1 Event a line) when Options.AuditLog is set.
func (e *Env) AuditLogPath() string { return filepath.Join(e.dir, "audit.log") }

// ServiceAccountToken returns a token of the ServiceAccount, created if
// missing, as the kubelet would mount it into a pod.
func (e *Env) ServiceAccountToken(ctx context.Context, namespace, name string) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := e.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating ServiceAccount %s/%s: %w", namespace, name, err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}}
	if err := e.Client.SubResource("token").Create(ctx, sa, req); err != nil {
		return "", fmt.Errorf("requesting a token of ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return req.Status.Token, nil
}

// ConfigWithToken is the API server's address and CA with a bearer token,
// e.g. one of ServiceAccountToken: what a pod's in-cluster config is.
func (e *Env) ConfigWithToken(token string) *rest.Config {
	return &rest.Config{Host: e.Config.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: e.Config.CAData}}
}

// startControllerManager runs the upstream kube-controller-manager with only
// the given controllers, against the test API server.
func (e *Env) startControllerManager(bins string, controllers []string) error {
	logFile, err := os.Create(filepath.Join(e.dir, "kube-controller-manager.log"))
	if err != nil {
		return fmt.Errorf("creating the controller-manager log: %w", err)
	}
	cmd := exec.Command(filepath.Join(bins, testbin.KubeControllerManager),
		"--kubeconfig="+e.Kubeconfig,
		"--controllers="+strings.Join(controllers, ","),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--concurrent-gc-syncs=5",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so Stop kills exactly what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	e.kcm, e.kcmDone = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(e.kcmDone)
	}()
	return nil
}

// ControllerManagerLog returns the path of kube-controller-manager's log, for
// failure messages.
func (e *Env) ControllerManagerLog() string {
	return filepath.Join(e.dir, "kube-controller-manager.log")
}

// Stop kills every process Start started and removes its files.
func (e *Env) Stop() {
	if e.kcm != nil {
		_ = syscall.Kill(-e.kcm.Process.Pid, syscall.SIGKILL)
		select {
		case <-e.kcmDone:
		case <-time.After(10 * time.Second):
		}
	}
	if e.env != nil {
		_ = e.env.Stop()
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// PIDs returns the PIDs of the processes the environment runs, so a test can
// assert none survives Stop.
func (e *Env) PIDs() []int {
	var pids []int
	if e.kcm != nil {
		pids = append(pids, e.kcm.Process.Pid)
	}
	return pids
}

// Namespace creates a fresh namespace for one test.
func (e *Env) Namespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("creating a namespace: %w", err)
	}
	return ns.Name, nil
}

// repoRoot finds the repository from the binaries' directory, which lives
// in it (bin/testbin/current), or from the working directory.
func repoRoot(bins string) (string, error) {
	for _, start := range []string{bins, "."} {
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "config", "crd", "bases")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("no config/crd/bases above %s or the working directory", bins)
}
