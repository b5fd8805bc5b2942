package simirisha_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/kubelet"
	"github.com/irisha/irisha/internal/sim/proc"
	"github.com/irisha/irisha/internal/sim/reference"
)

// TestIrisContainerWithoutTheAgent: an irisha pod's IRIS container whose
// command is not the agent runs what the IRIS image has without it, and
// the kubelet's probe of the agent's /readyz (which nothing serves) keeps
// it unready; a program the image does not have fails to start. The
// reference deployment's IRIS container, run as the fake iris-main, passes
// its exec liveness probe (`sh -c "iris qlist iris | grep running"`).
func TestIrisContainerWithoutTheAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	other := func(_ context.Context, env sim.ContainerEnv) (*sim.ContainerProcess, error) {
		if env.Pod.Namespace == "ref" && env.Container == reference.Container {
			return simirisha.IrisMain(bins, env)
		}
		return nil, nil
	}
	c, err := sim.Start(ctx, sim.Options{
		Nodes: 1, Timings: sim.FastTimings(), Log: testr.New(t),
		KeepWorkDir: os.Getenv("IRISHA_SIM_KEEP") != "",
		Runner:      simirisha.Runner(bins, simirisha.RunnerOptions{Other: other}),
	})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the sim: %v", err)
		}
		for _, pid := range c.PIDs() {
			if proc.Alive(pid) {
				t.Errorf("process %d is alive after Stop", pid)
			}
		}
	})
	cs := c.Clientset()
	for _, n := range []string{ns, "ref"} {
		if err := c.CreateNamespace(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, "ref", reference.YAML()); err != nil {
		t.Fatal(err)
	}

	pod := func(name string, command ...string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{resources.LabelIrisInstance: instName, "truth": name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: resources.ContainerName, Image: "containers.intersystems.com/intersystems/iris:2025.1", Command: command,
				Env:   []corev1.EnvVar{{Name: "ISC_DATA_DIRECTORY", Value: t.TempDir()}},
				Ports: []corev1.ContainerPort{{Name: "agent", ContainerPort: resources.AgentPort}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("agent")}},
					PeriodSeconds: 1,
				},
			}}},
		}
	}
	for _, p := range []*corev1.Pod{pod("edited", "/iris-main"), pod("missing", "/usr/bin/python3", "-c", "pass")} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := sim.WaitForPods(ctx, cs, ns, "truth=missing", func(p []corev1.Pod) bool {
		if len(p) != 1 || len(p[0].Status.ContainerStatuses) != 1 {
			return false
		}
		s := p[0].Status.ContainerStatuses[0]
		return !s.Ready && s.State.Waiting != nil && s.State.Waiting.Reason == kubelet.ReasonCrashLoopBackOff &&
			s.LastTerminationState.Terminated != nil && s.LastTerminationState.Terminated.ExitCode == kubelet.ExitCodeStartError &&
			strings.Contains(s.LastTerminationState.Terminated.Message, `exec: "/usr/bin/python3": stat /usr/bin/python3: no such file or directory`)
	}); err != nil {
		t.Errorf("a program the IRIS image does not have: %v", err)
	}

	if err := waitUnhealthy(ctx, cs, "edited"); err != nil {
		t.Fatal(err)
	}
	edited, err := cs.CoreV1().Pods(ns).Get(ctx, "edited", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := edited.Status.ContainerStatuses; sim.PodReady(edited) || len(s) != 1 || s[0].State.Running == nil {
		t.Errorf("iris-main without the agent: %+v, want Running and not Ready", edited.Status)
	}

	// The reference's liveness probe: 25 s initial delay, every 10 s, 3
	// failures to restart. Past the third probe it must not have failed.
	refs, err := sim.WaitForPods(ctx, cs, "ref", reference.Selector, func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) })
	if err != nil {
		t.Fatal(err)
	}
	started := refs[0].Status.ContainerStatuses[0].State.Running.StartedAt.Time
	select {
	case <-time.After(time.Until(started.Add(50 * time.Second))):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	events, err := cs.CoreV1().Events("ref").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + refs[0].Name + ",reason=Unhealthy"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		t.Errorf("the reference's probe failed: %s", e.Message)
	}
	ref, err := cs.CoreV1().Pods("ref").Get(ctx, refs[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := ref.Status.ContainerStatuses[0]; s.RestartCount != 0 || !s.Ready {
		t.Errorf("the reference after its liveness probes: %+v", s)
	}
}
