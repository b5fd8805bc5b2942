package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/fsbench"
	"github.com/irisha/irisha/internal/resources"
)

func TestBenchPod(t *testing.T) {
	p := BenchPod("scratch", "irisha-bench-x", "ghcr.io/irisha/irisha-manager:v0.1.0", 500, 5*time.Minute)
	c := p.Spec.Containers[0]
	want := []string{resources.AgentImageBinary, fsbench.Command, fsbench.FlagDir, benchMount, fsbench.FlagWrites, "500", fsbench.FlagResultFile, c.TerminationMessagePath}
	if !slices.Equal(c.Command, want) {
		t.Errorf("command %q, want %q", c.Command, want)
	}
	sc := p.Spec.SecurityContext
	checks := map[string]bool{
		"runs once":                  p.Spec.RestartPolicy == corev1.RestartPolicyNever,
		"has a deadline":             p.Spec.ActiveDeadlineSeconds != nil && *p.Spec.ActiveDeadlineSeconds == 300,
		"non-root, the image's user": *sc.RunAsNonRoot && *sc.RunAsUser == benchUser && *sc.FSGroup == benchUser,
		"restricted container":       !*c.SecurityContext.AllowPrivilegeEscalation && *c.SecurityContext.ReadOnlyRootFilesystem && c.SecurityContext.Capabilities.Drop[0] == "ALL",
		"seccomp":                    sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"mounts the claim":           p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName == "irisha-bench-x" && c.VolumeMounts[0].MountPath == benchMount,
		"labelled for cleanup":       p.Labels["app.kubernetes.io/name"] == benchName,
		"no API token":               !*p.Spec.AutomountServiceAccountToken,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: no, in %+v", what, p.Spec)
		}
	}
	pvc := BenchPVC("scratch", "longhorn")
	if *pvc.Spec.StorageClassName != "longhorn" || pvc.Namespace != "scratch" || pvc.GenerateName != "irisha-bench-" {
		t.Errorf("claim %+v", pvc)
	}
}

func TestBenchClasses(t *testing.T) {
	names := func(cs []*storagev1.StorageClass) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	s := healthy()
	got, err := BenchClasses(s, "")
	if err != nil || !slices.Equal(names(got), []string{"longhorn", "local-disk"}) {
		t.Errorf("default: %v %v, want the default class then the node-local one", names(got), err)
	}
	inst := instance("db", "iris", ptr.To("local-disk"), v1alpha1.FailoverLease)
	s.Target = &inst
	if got, _ := BenchClasses(s, ""); !slices.Equal(names(got), []string{"local-disk"}) {
		t.Errorf("instance on local-disk: %v", names(got))
	}
	if _, err := BenchClasses(s, "nosuch"); err == nil {
		t.Error("no error for a missing class")
	}
	s = healthy()
	s.StorageClasses = []storagev1.StorageClass{longhornClass()}
	if _, err := BenchClasses(s, ""); err == nil {
		t.Error("no error without a default class")
	}
}

// kubelet plays the kubelet for the fake client: once the bench pod
// exists, it ends it with status.
func kubelet(t *testing.T, ctx context.Context, c client.Client, end func(*corev1.Pod)) {
	go func() {
		for ctx.Err() == nil {
			pods := &corev1.PodList{}
			if err := c.List(ctx, pods, client.MatchingLabels(benchLabels)); err == nil && len(pods.Items) == 1 {
				p := &pods.Items[0]
				p.Spec.NodeName = "node-b"
				if err := c.Update(ctx, p); err != nil {
					t.Errorf("updating the bench pod: %v", err)
					return
				}
				end(p)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
}

func terminated(c client.Client, msg string, code int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			p.Status.Phase = corev1.PodFailed
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: benchContainer,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg}}}}
		_ = c.Status().Update(context.Background(), p)
	}
}

func newBencher(c client.Client, progress *bytes.Buffer, timeout time.Duration) *Bencher {
	return &Bencher{Client: c, Namespace: "scratch", Image: "irisha:test", Writes: 10, Timeout: timeout,
		Poll: 5 * time.Millisecond, Progress: progress, Now: time.Now}
}

func leftovers(t *testing.T, c client.Client) {
	t.Helper()
	pods, pvcs := &corev1.PodList{}, &corev1.PersistentVolumeClaimList{}
	if err := c.List(context.Background(), pods); err != nil {
		t.Fatal(err)
	}
	if err := c.List(context.Background(), pvcs); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items)+len(pvcs.Items) != 0 {
		t.Errorf("left behind: %d pods, %d claims", len(pods.Items), len(pvcs.Items))
	}
}

func TestBencherRun(t *testing.T) {
	sc := longhornClass()
	t.Run("a result", func(t *testing.T) {
		c := fake.NewClientBuilder().Build()
		want := fsbench.Result{Writes: 10, BlockBytes: 4096, P50Ms: 1.5, P90Ms: 2, P99Ms: 3.25, MaxMs: 4, MeanMs: 1.7, TotalSeconds: 0.02}
		b, _ := json.Marshal(want)
		kubelet(t, t.Context(), c, terminated(c, string(b), 0))
		var progress bytes.Buffer
		res := newBencher(c, &progress, 10*time.Second).Run(t.Context(), &sc, Replicated)
		if res.Error != "" || res.Result == nil || *res.Result != want || res.Node != "node-b" || res.Replication != Replicated {
			t.Fatalf("got %+v", res)
		}
		leftovers(t, c)
		for _, line := range []string{"claim irisha-bench-", "done: p50 1.50 ms, p99 3.25 ms over 10 writes", "deleted pod irisha-bench-"} {
			if !strings.Contains(progress.String(), line) {
				t.Errorf("progress lacks %q:\n%s", line, progress.String())
			}
		}
	})
	t.Run("the bench failed", func(t *testing.T) {
		c := fake.NewClientBuilder().Build()
		kubelet(t, t.Context(), c, terminated(c, `{"writes":0,"blockBytes":0,"p50Ms":0,"p90Ms":0,"p99Ms":0,"maxMs":0,"meanMs":0,"totalSeconds":0,"error":"fsync: input/output error"}`, 1))
		res := newBencher(c, &bytes.Buffer{}, 10*time.Second).Run(t.Context(), &sc, Replicated)
		if !strings.Contains(res.Error, "fsync: input/output error") || res.Result != nil {
			t.Errorf("got %+v", res)
		}
		leftovers(t, c)
	})
	t.Run("no message", func(t *testing.T) {
		c := fake.NewClientBuilder().Build()
		kubelet(t, t.Context(), c, terminated(c, "exec format error", 1))
		res := newBencher(c, &bytes.Buffer{}, 10*time.Second).Run(t.Context(), &sc, Replicated)
		if !strings.Contains(res.Error, "exited 1") {
			t.Errorf("got %+v", res)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		c := fake.NewClientBuilder().Build()
		res := newBencher(c, &bytes.Buffer{}, 50*time.Millisecond).Run(t.Context(), &sc, Replicated)
		if !strings.Contains(res.Error, "no result within 50ms") {
			t.Errorf("got %+v", res)
		}
		leftovers(t, c)
	})
	t.Run("Ctrl-C", func(t *testing.T) {
		c := fake.NewClientBuilder().Build()
		ctx, cancel := context.WithCancel(t.Context())
		kubelet(t, ctx, c, func(*corev1.Pod) { cancel() })
		var progress bytes.Buffer
		res := newBencher(c, &progress, 10*time.Second).Run(ctx, &sc, Replicated)
		if !strings.Contains(res.Error, "interrupted") {
			t.Errorf("got %+v", res)
		}
		leftovers(t, c)
		if !strings.Contains(progress.String(), "deleted pod") {
			t.Errorf("progress:\n%s", progress.String())
		}
	})
}
