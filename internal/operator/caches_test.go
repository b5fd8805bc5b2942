package operator_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/instance"
	"github.com/irisha/irisha/internal/operator"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/testenv"
)

// TestCachesHoldOnlyWhatTheOperatorNeeds runs the operator's manager, with
// its caches as NewManager configures them and the IrisInstance controller,
// watching one of two namespaces, each holding a pod of irisha's and
// a stranger's, a stranger's Secret and a CPF ConfigMap. It checks that the
// manager's cache holds only irisha's pods and Secrets of the watched
// namespace, that the ConfigMap an instance references is cached as
// metadata alone, and that changing it still reaches the merge Secret.
func TestCachesHoldOnlyWhatTheOperatorNeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a control plane")
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(logLevel())))
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	watched, err := env.Namespace(ctx, "watched")
	if err != nil {
		t.Fatal(err)
	}
	other, err := env.Namespace(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	// Before the manager starts, so that its caches' first LIST meets them.
	for _, ns := range []string{watched, other} {
		for _, obj := range []client.Object{
			pod(ns, "stranger", nil),
			pod(ns, "ours", map[string]string{resources.LabelIrisInstance: "iris"}),
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stranger"}, Data: map[string][]byte{"password": []byte("s3cret")}},
			cpf(ns, "800"),
		} {
			if err := env.Client.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
	}

	mgr, references, err := operator.NewManagerWithoutControllers(env.Config, operator.Options{
		MetricsAddr: "0", ProbeAddr: "0", WatchNamespaces: []string{watched}, KubeAPIQPS: 100, KubeAPIBurst: 200,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &instance.Reconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("irisha-operator"),
		Clock: clock.RealClock{}, AgentImage: "irisha-manager:test", Metrics: instance.NewMetrics(prometheus.NewRegistry()),
	}
	if err := r.SetupWithReferences(mgr, references); err != nil {
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

	inst := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: watched, Name: "iris"},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:   "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage: v1alpha1.StorageSpec{ClassName: ptr.To("longhorn"), Size: resource.MustParse("1Gi")},
			Config:  &v1alpha1.ConfigSpec{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "cpf"}},
		},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	mergeHolds := func(globals string) {
		t.Helper()
		want := "globals=0,0," + globals
		var last string
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			s := &corev1.Secret{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: watched, Name: resources.MergeSecretName(inst)}, s); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			last = string(s.Data[resources.MergeFileKey])
			return strings.Contains(last, want), nil
		}); err != nil {
			t.Fatalf("the merge Secret never held %q (last %q): %v", want, last, err)
		}
	}
	mergeHolds("800")

	c := mgr.GetCache()
	t.Run("only irisha's pods and Secrets, of the watched namespace", func(t *testing.T) {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods); err != nil {
			t.Fatal(err)
		}
		if got, want := keys(pods.Items), []string{watched + "/ours"}; !slices.Equal(got, want) {
			t.Errorf("cached pods %q, want %q", got, want)
		}
		secrets := &corev1.SecretList{}
		if err := c.List(ctx, secrets); err != nil {
			t.Fatal(err)
		}
		if got, want := keys(secrets.Items), []string{watched + "/" + resources.MergeSecretName(inst)}; !slices.Equal(got, want) {
			t.Errorf("cached Secrets %q, want %q", got, want)
		}
		cms := &corev1.ConfigMapList{}
		if err := c.List(ctx, cms); err != nil {
			t.Fatal(err)
		}
		if got := keys(cms.Items); len(got) != 0 {
			t.Errorf("cached ConfigMaps %q, want none: irisha labelled none here", got)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: other, Name: "ours"}, &corev1.Pod{}); err == nil {
			t.Errorf("a pod of namespace %s, which is not watched, is in the cache", other)
		}
	})

	t.Run("the referenced ConfigMaps' metadata, of the watched namespace", func(t *testing.T) {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
		if err := references.List(ctx, list); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range list.Items {
			if m.Namespace != watched {
				t.Errorf("ConfigMap %s/%s of a namespace not watched is in the references' cache", m.Namespace, m.Name)
			}
			got = append(got, m.Name)
		}
		if !slices.Contains(got, "cpf") {
			t.Errorf("the references' cache holds ConfigMaps %q, not the referenced cpf", got)
		}
	})

	t.Run("a change of the referenced ConfigMap reaches the merge Secret", func(t *testing.T) {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cm := &corev1.ConfigMap{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: watched, Name: "cpf"}, cm); err != nil {
				return err
			}
			cm.Data = cpf(watched, "900").Data
			return env.Client.Update(ctx, cm)
		}); err != nil {
			t.Fatal(err)
		}
		mergeHolds("900")
	})
}

func pod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func cpf(ns, globals string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cpf"},
		Data:       map[string]string{resources.MergeFileKey: "[config]\nglobals=0,0," + globals + ",0,0,0\n"},
	}
}

func keys[T any, P interface {
	*T
	client.Object
}](items []T) []string {
	var out []string
	for i := range items {
		o := P(&items[i])
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(out)
	return out
}
