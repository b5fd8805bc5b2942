package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/kubelet"
)

// The simulated kubelet tells the truth: a container whose program the
// image lacks fails to start and never becomes Ready, a container whose
// readiness probe fails is never Ready, and a container's process talks to
// the API server as its pod's ServiceAccount, within that account's RBAC.

// truthImage is the test's image: a container runs its command as a host
// program (a missing one is the runtime's start error), and exec probes
// run host programs too; a pod labelled virtual has no process.
func truthImage(_ context.Context, env sim.ContainerEnv) (*sim.ContainerProcess, error) {
	if env.Pod.Labels["virtual"] == "true" {
		return nil, nil
	}
	var spec *corev1.Container
	for i := range env.Pod.Spec.Containers {
		if env.Pod.Spec.Containers[i].Name == env.Container {
			spec = &env.Pod.Spec.Containers[i]
		}
	}
	argv := append(append([]string(nil), spec.Command...), spec.Args...)
	vars := append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "OUT="+env.TerminationMessageFile)
	if argv[0] == "whoami" {
		// The test binary itself, as the helper of TestMain.
		argv[0] = os.Args[0]
		vars = append(vars, envWhoami+"="+env.Pod.Namespace)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = vars
	return &sim.ContainerProcess{Cmd: cmd, Exec: func(argv []string) (*exec.Cmd, error) {
		return exec.Command(argv[0], argv[1:]...), nil
	}}, nil
}

func truthPod(name string, labels map[string]string, command ...string) *corev1.Pod {
	labels = mapsWith(labels, "truth", name)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "main", Image: "sim/truth:1", Command: command}},
			TerminationGracePeriodSeconds: ptrTo(int64(1)),
		},
	}
}

func mapsWith(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// TestUnrunnableAndUnreadyContainers: (a) a command the image does not have
// fails to start (StartError, exit code 128), is restarted with back-off
// (CrashLoopBackOff, restartCount growing) and is never Ready; (b) a
// running container whose exec readiness probe fails, and a virtual one
// with a readiness probe (nothing can answer it), are never Ready, while
// one without a readiness probe is Ready once running.
func TestUnrunnableAndUnreadyContainers(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 1, Runner: truthImage})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const ns = "truth"
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cs := c.Clientset()

	unready := truthPod("unready", nil, "sleep", "600")
	unready.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "exit 1"}}},
		PeriodSeconds: 1,
	}
	virtual := truthPod("virtual", map[string]string{"virtual": "true"}, "server")
	virtual.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1,
	}
	ready := truthPod("ready", nil, "sleep", "600")
	probed := truthPod("probed", nil, "sleep", "600")
	probed.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
		PeriodSeconds: 1,
	}
	for _, p := range []*corev1.Pod{
		truthPod("missing", nil, "/no/such/iris-main", "--check-caps"),
		unready, virtual, ready, probed,
	} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Ready (and so running) pods come first: the others must stay
	// unready well past the moment these were.
	if _, err := sim.WaitForPods(ctx, cs, ns, "truth in (ready,probed)", func(pods []corev1.Pod) bool {
		return len(pods) == 2 && sim.PodReady(&pods[0]) && sim.PodReady(&pods[1])
	}); err != nil {
		t.Fatalf("a container without a readiness probe, or with a passing one, is Ready once running: %v", err)
	}

	// The unready pods' probes run every second: their containers stay
	// Running and never become Ready.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, name := range []string{"unready", "virtual"} {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st := p.Status.ContainerStatuses
			if sim.PodReady(p) || len(st) != 1 || st[0].Ready || st[0].State.Running == nil {
				t.Fatalf("pod %s: %+v; want its container running and never Ready", name, p.Status)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	var everReady []string
	var last corev1.Pod
	if _, err := sim.WaitForPods(ctx, cs, ns, "truth=missing", func(pods []corev1.Pod) bool {
		if len(pods) != 1 {
			return false
		}
		last = pods[0]
		if sim.PodReady(&last) {
			everReady = append(everReady, last.Name)
		}
		s := last.Status.ContainerStatuses
		if len(s) != 1 || s[0].State.Waiting == nil || s[0].LastTerminationState.Terminated == nil {
			return false
		}
		return s[0].State.Waiting.Reason == kubelet.ReasonCrashLoopBackOff && s[0].RestartCount >= 2
	}); err != nil {
		t.Fatalf("a missing executable: want CrashLoopBackOff after failed starts: %v; last status %+v", err, last.Status)
	}
	s := last.Status.ContainerStatuses[0]
	term := s.LastTerminationState.Terminated
	if term.ExitCode != kubelet.ExitCodeStartError || term.Reason != "StartError" ||
		!strings.Contains(term.Message, `exec: "/no/such/iris-main": stat /no/such/iris-main: no such file or directory`) {
		t.Errorf("last state %+v, want StartError, exit code 128 and the runtime's message", term)
	}
	if s.Ready || s.Started == nil || *s.Started || last.Status.Phase != corev1.PodRunning {
		t.Errorf("status %+v: want Running phase (restarting), container never started or Ready", last.Status)
	}
	if len(everReady) > 0 {
		t.Errorf("a container that cannot start was Ready")
	}

	events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=unready,reason=Unhealthy"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) == 0 {
		t.Error("no Unhealthy event for the failing readiness probe")
	}
	events, err = cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=missing,reason=Failed"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) == 0 || !strings.Contains(events.Items[0].Message, "failed to create containerd task") {
		t.Errorf("Failed events %+v, want the runtime's start error", events.Items)
	}
}

// whoamiResult is what the whoami helper leaves in its termination message.
type whoamiResult struct {
	User   authenticationv1.UserInfo `json:"user"`
	Review string                    `json:"review,omitempty"` // error of the SelfSubjectReview
	Get    string                    `json:"get,omitempty"`    // error getting the granted ConfigMap
	List   int32                     `json:"list"`             // HTTP code listing Secrets (not granted)
}

// envWhoami makes the test binary the whoami helper (TestMain).
const envWhoami = "SIM_TRUTH_WHOAMI"

// whoami runs inside a container process: who does the API server say it
// is, can it read what its Role grants, and is it refused the rest? The
// answer goes to the termination message file ($OUT).
func whoami() int {
	var res whoamiResult
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := os.Getenv(envWhoami)
	if r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil {
		res.Review = err.Error()
	} else {
		res.User = r.Status.UserInfo
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "granted", metav1.GetOptions{}); err != nil {
		res.Get = err.Error()
	}
	_, err = cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		res.List = status.Status().Code
	} else if err == nil {
		res.List = 200
	}
	b, _ := json.Marshal(res)
	if err := os.WriteFile(os.Getenv("OUT"), b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// TestContainersRunAsTheirServiceAccount: a process the kubelet starts
// authenticates as system:serviceaccount:<ns>:<sa> with a token bound to
// its pod, is allowed what the account's Role grants and refused (403) the
// rest; without a mounted token it is nobody; a pod whose ServiceAccount
// does not exist is refused by the API server.
func TestContainersRunAsTheirServiceAccount(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 1, Runner: truthImage})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const ns = "whoami"
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cs := c.Clientset()
	for _, o := range []func() error{
		func() error {
			_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "worker"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "granted"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "worker"},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"granted"}, Verbs: []string{"get"}}}},
				metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "worker"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "worker"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "worker", Namespace: ns}}},
				metav1.CreateOptions{})
			return err
		},
	} {
		if err := o(); err != nil {
			t.Fatal(err)
		}
	}

	worker := truthPod("worker", nil, "whoami")
	worker.Spec.ServiceAccountName = "worker"
	anonymous := truthPod("anonymous", nil, "whoami")
	anonymous.Spec.ServiceAccountName = "worker"
	anonymous.Spec.AutomountServiceAccountToken = ptrTo(false)
	for _, p := range []*corev1.Pod{worker, anonymous} {
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	missing := truthPod("missing-sa", nil, "whoami")
	missing.Spec.ServiceAccountName = "nobody"
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, missing, metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("a pod of a missing ServiceAccount: %v, want the ServiceAccount admission plugin's refusal", err)
	}

	results := map[string]whoamiResult{}
	pods, err := sim.WaitForPods(ctx, cs, ns, "truth in (worker,anonymous)", func(pods []corev1.Pod) bool {
		done := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				done++
			}
		}
		return len(pods) == 2 && done == 2
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		st := p.Status.ContainerStatuses[0].State.Terminated
		if p.Status.Phase != corev1.PodSucceeded || st == nil {
			t.Fatalf("pod %s: %+v", p.Name, p.Status)
		}
		var r whoamiResult
		if err := json.Unmarshal([]byte(st.Message), &r); err != nil {
			t.Fatalf("pod %s left %q: %v", p.Name, st.Message, err)
		}
		results[p.Name] = r
	}

	w := results["worker"]
	pod := slices.IndexFunc(pods, func(p corev1.Pod) bool { return p.Name == "worker" })
	if w.Review != "" || w.User.Username != "system:serviceaccount:"+ns+":worker" ||
		!slices.Contains(w.User.Groups, "system:serviceaccounts:"+ns) {
		t.Errorf("worker: %+v, want system:serviceaccount:%s:worker", w, ns)
	}
	if got := w.User.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != string(pods[pod].UID) {
		t.Errorf("worker's token extra %v: want it bound to pod uid %s", w.User.Extra, pods[pod].UID)
	}
	if w.Get != "" || w.List != 403 {
		t.Errorf("worker: get granted ConfigMap %q, list Secrets %d; want allowed and 403", w.Get, w.List)
	}

	a := results["anonymous"]
	if a.User.Username != "" || a.Review == "" || a.List != 403 && a.List != 401 {
		t.Errorf("a pod without a mounted token: %+v, want no identity and refusals", a)
	}
}
