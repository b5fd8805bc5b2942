package simirisha

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/doctor"
	"github.com/irisha/irisha/internal/fsbench"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/kubelet"
	"github.com/irisha/irisha/internal/sim/reference"
)

// renderedPod is a pod of the Deployment the operator renders.
func renderedPod(t *testing.T) *corev1.Pod {
	t.Helper()
	inst := (&v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "iris"},
		Spec: v1alpha1.IrisInstanceSpec{Image: "iris:sim",
			Storage: v1alpha1.StorageSpec{ClassName: ptr.To("longhorn"), Size: resource.MustParse("1Gi")}},
	}).WithDefaults()
	d := resources.Deployment(resources.Inputs{Instance: inst, AgentImage: "irisha:sim"})
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "iris-abc", UID: "uid-1"},
		Spec:       d.Spec.Template.Spec,
	}
}

func TestAgentProcess(t *testing.T) {
	pod := renderedPod(t)
	bins := Binaries{Manager: "/bin/irisha-manager", Iris: "/fake/iris", IrisMain: "/fake/iris-main"}
	run := Runner(bins, RunnerOptions{Env: []string{"FAKEIRIS_JOURNAL_INTERVAL=20ms"}})
	env := sim.ContainerEnv{Node: "node-1", Pod: pod, Container: resources.ContainerName,
		Kubeconfig: "/sim/nodes/node-1/kubeconfig", Volumes: map[string]string{"data": "/sim/volumes/pvc-1"}}
	cp, err := run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	args := cp.Cmd.Args
	if args[0] != bins.Manager || !slices.Equal(args[1:3], []string{"agent", "run"}) {
		t.Fatalf("command %q", args)
	}
	sep := slices.Index(args, "--")
	if sep < 0 || args[sep+1] != bins.IrisMain || !slices.Contains(args[sep+1:], "--check-caps") {
		t.Fatalf("iris-main not replaced by the fake, or its options lost: %q", args)
	}
	flag := func(name string) string {
		i := slices.Index(args[:sep], name)
		if i < 0 {
			t.Fatalf("no %s in %q", name, args)
		}
		return args[i+1]
	}
	if flag("--kubeconfig") != env.Kubeconfig || flag("--iris") != bins.Iris {
		t.Fatalf("kubeconfig or iris not set: %q", args)
	}
	listen, superserver := flag("--listen-address"), flag("--superserver-address")
	lp, _ := portOf(listen)
	sp, _ := portOf(superserver)
	if !strings.HasPrefix(listen, "127.0.0.1:") || cp.Ports[resources.AgentPort] != lp || cp.Ports[resources.SuperserverPort] != sp {
		t.Fatalf("ports %v, listen %s, superserver %s", cp.Ports, listen, superserver)
	}
	vars := cp.Cmd.Env
	for _, want := range []string{
		"POD_NAME=iris-abc", "POD_NAMESPACE=db", "POD_UID=uid-1",
		"ISC_DATA_DIRECTORY=/sim/volumes/pvc-1/IRIS",
		"KUBECONFIG=" + env.Kubeconfig, "FAKEIRIS_SUPERSERVER=" + superserver, "FAKEIRIS_JOURNAL_INTERVAL=20ms",
	} {
		if !slices.Contains(vars, want) {
			t.Errorf("env lacks %s: %q", want, vars)
		}
	}
	if !strings.HasPrefix(vars[0], "PATH=/fake:") {
		t.Errorf("the fake IRIS must come first on PATH: %s", vars[0])
	}
	checkIrisExec(t, bins, cp)

	// Not an irisha container: virtual.
	pod.Spec.Containers[0].Command = []string{"/iris-main"}
	if cp, err := run(context.Background(), env); err != nil || cp != nil {
		t.Fatalf("another container: %v, %v; want virtual", cp, err)
	}
}

// TestFsbenchProcess: the pod `irisha doctor --bench-storage` creates runs
// irisha-manager fsbench on the volume's host directory, its result where
// the kubelet reads the termination message.
func TestFsbenchProcess(t *testing.T) {
	spec := doctor.BenchPod("scratch", "irisha-bench-x", "irisha:sim", 100, time.Minute).Spec
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "scratch", Name: "irisha-bench-y"}, Spec: spec}
	bins := Binaries{Manager: "/bin/irisha-manager"}
	env := sim.ContainerEnv{Node: "node-1", Pod: pod, Container: spec.Containers[0].Name,
		Volumes:                map[string]string{spec.Volumes[0].Name: "/sim/volumes/pvc-7"},
		TerminationMessageFile: "/sim/nodes/node-1/termination-messages/x"}
	cp, err := Runner(bins, RunnerOptions{})(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{bins.Manager, fsbench.Command, fsbench.FlagDir, "/sim/volumes/pvc-7", fsbench.FlagWrites, "100",
		fsbench.FlagResultFile, env.TerminationMessageFile}
	if !slices.Equal(cp.Cmd.Args, want) {
		t.Fatalf("command %q, want %q", cp.Cmd.Args, want)
	}
}

func TestRemapPath(t *testing.T) {
	mounts := []corev1.VolumeMount{
		{Name: "data", MountPath: "/irissys/data"},
		{Name: "wij", MountPath: "/irissys/data/wij", SubPath: "w"},
		{Name: "merge", MountPath: "/irissys/merge"},
	}
	vols := map[string]string{"data": "/v/pvc-1", "wij": "/v/pvc-2"}
	for in, want := range map[string]string{
		"/irissys/data/IRIS":       "/v/pvc-1/IRIS",
		"/irissys/data":            "/v/pvc-1",
		"/irissys/data/wij/x":      "/v/pvc-2/w/x", // the longest mount wins
		"/irissys/dataX":           "/irissys/dataX",
		"/irissys/merge/merge.cpf": "/irissys/merge/merge.cpf", // not a PV: left alone
		"relative":                 "relative",
	} {
		if got := remapPath(in, mounts, vols); got != want {
			t.Errorf("remapPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSetFlag(t *testing.T) {
	args, old := setFlag([]string{"--a", "1", "--b=2"}, "--b", "3")
	if old != "2" || !slices.Equal(args, []string{"--a", "1", "--b=3"}) {
		t.Fatalf("%q %q", args, old)
	}
	args, old = setFlag(args, "--a", "4")
	if old != "1" || !slices.Equal(args, []string{"--a", "4", "--b=3"}) {
		t.Fatalf("%q %q", args, old)
	}
	args, old = setFlag(args, "--c", "5")
	if old != "" || !slices.Equal(args, []string{"--a", "4", "--b=3", "--c", "5"}) {
		t.Fatalf("%q %q", args, old)
	}
}

// TestIrisMain: the reference deployment's IRIS container runs as the fake
// iris-main with the environment an agent would have, its data directory
// on the volume.
func TestIrisMain(t *testing.T) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(reference.YAML()), 4096)
	var d appsv1.Deployment
	for d.Kind != "Deployment" {
		d = appsv1.Deployment{}
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("no Deployment in the reference YAML: %v", err)
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ref", Name: "iris-xyz"}, Spec: d.Spec.Template.Spec}
	bins := Binaries{Manager: "/bin/irisha-manager", Iris: "/fake/iris", IrisMain: "/fake/iris-main"}
	env := sim.ContainerEnv{Node: "node-1", Pod: pod, Container: reference.Container,
		Volumes: map[string]string{"iris-external-sys": "/sim/volumes/pvc-9"}}
	cp, err := IrisMain(bins, env)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cp.Cmd.Args, []string{bins.IrisMain}) {
		t.Errorf("command %q, want the fake iris-main alone", cp.Cmd.Args)
	}
	vars := cp.Cmd.Env
	if !slices.Contains(vars, "ISC_DATA_DIRECTORY=/sim/volumes/pvc-9/iris") || !strings.HasPrefix(vars[0], "PATH=/fake:") {
		t.Errorf("env %q: want the data directory on the volume and the fake first on PATH", vars)
	}
	i := slices.IndexFunc(vars, func(v string) bool { return strings.HasPrefix(v, "FAKEIRIS_SUPERSERVER=127.0.0.1:") })
	if i < 0 {
		t.Fatalf("env %q has no superserver address", vars)
	}
	if p, _ := portOf(strings.TrimPrefix(vars[i], "FAKEIRIS_SUPERSERVER=")); cp.Ports[resources.SuperserverPort] != p {
		t.Errorf("ports %v, superserver %s", cp.Ports, vars[i])
	}

	checkIrisExec(t, bins, cp)

	pod.Spec.Containers[0].Command = []string{"/bin/sh", "-c", "exec sleep 60"}
	if cp, err := IrisMain(bins, env); err != nil || !slices.Equal(cp.Cmd.Args, []string{"/bin/sh", "-c", "exec sleep 60"}) {
		t.Errorf("a shell command: %v, %v; want the image's shell", cp, err)
	}
	for _, name := range []string{"/usr/bin/python3", "python3"} {
		pod.Spec.Containers[0].Command = []string{name}
		if _, err := IrisMain(bins, env); !kubelet.IsStartError(err) {
			t.Errorf("command %s the image does not have: %v, want a start error", name, err)
		}
	}
}

// checkIrisExec: `iris` exec'd into the container is the fake with the
// container's environment; nothing else is found.
func checkIrisExec(t *testing.T, bins Binaries, cp *sim.ContainerProcess) {
	t.Helper()
	if cp.Exec == nil {
		t.Fatal("no Exec: kubectl exec into the IRIS container cannot run iris")
	}
	for _, name := range []string{"iris", "/usr/irissys/bin/iris"} {
		cmd, err := cp.Exec([]string{name, "qlist", "IRIS"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cmd.Args, []string{bins.Iris, "qlist", "IRIS"}) || !slices.Equal(cmd.Env, cp.Cmd.Env) {
			t.Errorf("exec %s: %q with env %q, want the fake with the container's env %q", name, cmd.Args, cmd.Env, cp.Cmd.Env)
		}
	}
	if cmd, err := cp.Exec([]string{"sh", "-c", "iris qlist IRIS | grep running"}); err != nil || cmd.Args[0] != "/bin/sh" || !slices.Equal(cmd.Env, cp.Cmd.Env) {
		t.Errorf("exec sh: %v, %v; want the image's shell with the container's env", cmd, err)
	}
	if _, err := cp.Exec([]string{"python3"}); !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "executable file not found in $PATH") {
		t.Errorf("exec python3: %v, want executable file not found", err)
	}
	if _, err := cp.Exec([]string{"/bin/iris"}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("exec /bin/iris: %v, want no such file", err)
	}
}
