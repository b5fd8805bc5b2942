package operator_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/dist"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/testenv"
)

// operatorUser is who the installed operator is to the API server.
var operatorUser = "system:serviceaccount:" + dist.Namespace + ":irisha-manager"

// grantsOfTheOperator are the bindings of dist/install.yaml that give the
// operator's ServiceAccount its rights; the test applies them last.
var grantsOfTheOperator = []string{"ClusterRoleBinding/irisha-manager", "ClusterRoleBinding/irisha-metrics-auth", "RoleBinding/irisha-leader-election"}

// TestOperatorUnderItsInstalledRBAC runs the operator's manager in this
// process as the ServiceAccount dist/install.yaml creates, with exactly the
// roles it binds, against a real API server that enforces owner-reference
// permissions as OpenShift does. It checks that:
//   - /readyz fails until the caches have synced (here: until the roles
//     are bound), while /healthz passes;
//   - it is elected leader (the leader-election Role);
//   - /metrics is HTTPS with the given certificate, HTTP/1.1 only, refuses
//     an unauthenticated scrape (401) and one by a ServiceAccount without
//     the irisha-metrics-reader ClusterRole (403), and serves one with it;
//   - an IrisInstance gets its objects and status, and its claim changes
//     owner when its deletion policy does;
//   - the API server refused the operator nothing once it was ready (audit
//     log).
func TestOperatorUnderItsInstalledRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a control plane")
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(logLevel())))
	env, err := testenv.Start(testenv.Options{AdmissionPlugins: []string{"OwnerReferencesPermissionEnforcement"}, AuditLog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// dist/install.yaml without its workloads (no kubelet runs here: the
	// operator runs in this process instead) and without the operator's
	// grants yet.
	objs, err := dist.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var grants []*unstructured.Unstructured
	for _, u := range objs {
		switch id := u.GetKind() + "/" + u.GetName(); {
		case u.GetKind() == "Deployment" || u.GetKind() == "DaemonSet":
		case slices.Contains(grantsOfTheOperator, id):
			grants = append(grants, u)
		default:
			apply(t, ctx, env, u)
		}
	}
	if len(grants) != len(grantsOfTheOperator) {
		t.Fatalf("found %d of the operator's bindings %q in dist/install.yaml", len(grants), grantsOfTheOperator)
	}

	token, err := env.ServiceAccountToken(ctx, dist.Namespace, "irisha-manager")
	if err != nil {
		t.Fatal(err)
	}
	certs, pool := servingCert(t)
	metricsAddr, probeAddr := freeAddr(t), freeAddr(t)
	mgr, err := operator.NewManager(env.ConfigWithToken(token), operator.Options{
		MetricsAddr: metricsAddr, MetricsSecure: true, MetricsCertDir: certs,
		ProbeAddr:   probeAddr,
		LeaderElect: true, LeaderElectionNamespace: dist.Namespace,
		WitnessNamespace: dist.Namespace,
		AgentImage:       "irisha-manager:test",
		KubeAPIQPS:       100, KubeAPIBurst: 200,
	})
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(mgrCtx) }()
	defer func() {
		stopMgr()
		if err := <-stopped; err != nil {
			t.Errorf("the manager: %v", err)
		}
	}()

	probe := "http://" + probeAddr
	t.Run("not ready without its grants", func(t *testing.T) {
		healthy := false
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if code := status(probe + "/readyz"); code == http.StatusOK {
				t.Fatal("/readyz passed while the operator could list nothing")
			}
			healthy = healthy || status(probe+"/healthz") == http.StatusOK
		}
		if !healthy {
			t.Error("/healthz never passed")
		}
	})

	for _, u := range grants {
		apply(t, ctx, env, u)
	}
	var readySince time.Time
	eventually(t, ctx, 2*time.Minute, "/readyz to pass once the roles are bound", func(context.Context) (bool, error) {
		readySince = time.Now()
		return status(probe+"/readyz") == http.StatusOK, nil
	})
	// The audit log's clock is the API server's, this machine's too; a
	// second of slack for requests the API server received just before.
	readySince = readySince.Add(-time.Second)

	t.Run("leader", func(t *testing.T) {
		eventually(t, ctx, time.Minute, "the leader Lease", func(ctx context.Context) (bool, error) {
			l := &coordinationv1.Lease{}
			err := env.Client.Get(ctx, client.ObjectKey{Namespace: dist.Namespace, Name: operator.LeaderElectionID}, l)
			return err == nil && ptr.Deref(l.Spec.HolderIdentity, "") != "", nil
		})
		eventually(t, ctx, time.Minute, "the LeaderElection Event", func(ctx context.Context) (bool, error) {
			events := &corev1.EventList{}
			if err := env.Client.List(ctx, events, client.InNamespace(dist.Namespace)); err != nil {
				return false, err
			}
			return slices.ContainsFunc(events.Items, func(e corev1.Event) bool { return e.Reason == "LeaderElection" }), nil
		})
	})

	instNS, err := env.Namespace(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	inst := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: instNS, Name: "iris"},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:   "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage: v1alpha1.StorageSpec{ClassName: ptr.To("longhorn"), Size: resource.MustParse("10Gi")},
		},
	}
	t.Run("an instance", func(t *testing.T) {
		if err := env.Client.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
		for _, o := range []client.Object{&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "iris-data"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "iris-merge"}}, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "iris"}},
			&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "iris-fencing"}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "iris-agent"}}, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "iris-agent"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "iris"}}} {
			eventually(t, ctx, time.Minute, fmt.Sprintf("%T %s", o, o.GetName()), func(ctx context.Context) (bool, error) {
				return env.Client.Get(ctx, client.ObjectKey{Namespace: instNS, Name: o.GetName()}, o) == nil, nil
			})
		}
		eventually(t, ctx, time.Minute, "the instance's status", func(ctx context.Context) (bool, error) {
			got := &v1alpha1.IrisInstance{}
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got)
			return err == nil && got.Status.Phase != "" && got.Status.ObservedGeneration == got.Generation, err
		})
		// Owning and releasing the claim rewrites its ownerReferences:
		// OwnerReferencesPermissionEnforcement wants delete on claims for it.
		for _, policy := range []v1alpha1.PVCDeletionPolicy{v1alpha1.PVCDelete, v1alpha1.PVCRetain} {
			got := &v1alpha1.IrisInstance{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
				t.Fatal(err)
			}
			got.Spec.Storage.DeletionPolicy = policy
			if err := env.Client.Update(ctx, got); err != nil {
				t.Fatal(err)
			}
			eventually(t, ctx, time.Minute, "the claim owned under "+string(policy), func(ctx context.Context) (bool, error) {
				pvc := &corev1.PersistentVolumeClaim{}
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: instNS, Name: "iris-data"}, pvc); err != nil {
					return false, err
				}
				return metav1.IsControlledBy(pvc, got) == (policy == v1alpha1.PVCDelete), nil
			})
		}
	})

	t.Run("metrics", func(t *testing.T) {
		url := "https://" + metricsAddr + "/metrics"
		reader, err := env.ServiceAccountToken(ctx, "default", "prometheus")
		if err != nil {
			t.Fatal(err)
		}
		bind := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "prometheus-reads-irisha"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "irisha-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "prometheus"}},
		}
		if err := env.Client.Create(ctx, bind); err != nil {
			t.Fatal(err)
		}
		nosy, err := env.ServiceAccountToken(ctx, "default", "nosy")
		if err != nil {
			t.Fatal(err)
		}
		c := scraper(pool)
		if code, _, _ := scrape(t, c, url, ""); code != http.StatusUnauthorized {
			t.Errorf("unauthenticated scrape: %d, want 401", code)
		}
		if code, _, _ := scrape(t, c, url, nosy); code != http.StatusForbidden {
			t.Errorf("scrape without irisha-metrics-reader: %d, want 403", code)
		}
		var body, proto string
		eventually(t, ctx, time.Minute, "a scrape with irisha-metrics-reader to serve the instance's series", func(context.Context) (bool, error) {
			var code int
			code, body, proto = scrape(t, c, url, reader)
			return code == http.StatusOK && strings.Contains(body, `irisha_instance_ready{instance="iris",namespace="`+instNS+`"}`), nil
		})
		if proto != "HTTP/1.1" {
			t.Errorf("metrics served over %s, want HTTP/1.1 (HTTP/2 is off by default)", proto)
		}
	})

	t.Run("nothing refused", func(t *testing.T) {
		refused, used := audit(t, env.AuditLogPath(), readySince)
		times := map[string]int{}
		for _, r := range refused {
			times[r]++
		}
		for r, n := range times {
			t.Errorf("the API server refused the operator %d times: %s", n, r)
		}
		t.Logf("the operator's requests after it was ready: %s", strings.Join(used, ", "))
	})
}

// audit reads the API server's audit log: the operator's requests refused
// since since, and every verb and resource it used then.
func audit(t *testing.T, path string, since time.Time) (refused, used []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	seen := map[string]bool{}
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for lines.Scan() {
		var ev auditv1.Event
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("audit log line %d: %v", n+1, err)
		}
		n++
		if ev.User.Username != operatorUser || ev.RequestReceivedTimestamp.Time.Before(since) || ev.ObjectRef == nil {
			continue
		}
		what := ev.Verb + " " + ev.ObjectRef.Resource
		if ev.ObjectRef.Subresource != "" {
			what += "/" + ev.ObjectRef.Subresource
		}
		if ev.ResponseStatus != nil && ev.ResponseStatus.Code == http.StatusForbidden {
			refused = append(refused, fmt.Sprintf("%s %s/%s: %s", what, ev.ObjectRef.Namespace, ev.ObjectRef.Name, ev.ResponseStatus.Message))
		}
		seen[what] = true
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatalf("no request of %s in the %d lines of the audit log", operatorUser, n)
	}
	for k := range seen {
		used = append(used, k)
	}
	sort.Strings(used)
	return refused, used
}

func apply(t *testing.T, ctx context.Context, env *testenv.Env, u *unstructured.Unstructured) {
	t.Helper()
	if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("irisha-test"), client.ForceOwnership); err != nil {
		t.Fatalf("applying %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// servingCert writes a certificate for 127.0.0.1 as tls.crt and tls.key
// into a directory and returns it, with a pool that trusts it.
func servingCert(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	crt, key, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"tls.crt": crt, "tls.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(crt) {
		t.Fatal("no certificate in the generated PEM")
	}
	return dir, pool
}

// scraper trusts only the test's certificate, so a scrape that succeeds
// proves the endpoint serves the one given by --metrics-cert-dir; it offers
// HTTP/2, to see that the server declines.
func scraper(pool *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}

func scrape(t *testing.T, c *http.Client, url, token string) (code int, body, proto string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Proto
}

// status is the HTTP status of a GET, 0 when there is no answer.
func status(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

func eventually(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, cond); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// logLevel keeps the manager quiet unless IRISHA_TEST_VERBOSE is set.
func logLevel() zapcore.Level {
	if os.Getenv("IRISHA_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}
