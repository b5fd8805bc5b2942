package sim_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/internal/sim"
	"github.com/irisha/irisha/internal/sim/proc"
	"github.com/irisha/irisha/internal/sim/reference"
)

// testTimeout bounds each integration test; the fast timings make every
// step take seconds.
const testTimeout = 3 * time.Minute

// startCluster boots a 3-node cluster with fast timings, stopped (and
// checked for leftover processes) at cleanup.
func startCluster(t *testing.T, opts sim.Options) *sim.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a simulated cluster")
	}
	if opts.Timings == (sim.Timings{}) {
		opts.Timings = sim.FastTimings()
	}
	opts.Log = testr.NewWithOptions(t, testr.Options{Verbosity: 0})
	opts.KeepWorkDir = os.Getenv("IRISHA_SIM_KEEP") != ""
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := sim.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the sim: %v", err)
		}
		for _, pid := range c.PIDs() {
			if proc.Alive(pid) {
				t.Errorf("process %d started by the sim is alive after Stop", pid)
			}
		}
	})
	return c
}

// deployReference creates the reference deployment in a fresh namespace and
// waits until its pod is Running and Ready.
func deployReference(ctx context.Context, t *testing.T, c *sim.Cluster, ns, class string) corev1.Pod {
	t.Helper()
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	manifests, err := reference.WithStorageClass(class)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, ns, manifests); err != nil {
		t.Fatal(err)
	}
	pods, err := sim.WaitForPods(ctx, c.Clientset(), ns, reference.Selector, func(pods []corev1.Pod) bool {
		return len(pods) == 1 && sim.PodReady(&pods[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	return pods[0]
}

// attachedTo returns the nodes the PV is attached to (status.attached).
func attachedTo(ctx context.Context, t *testing.T, c *sim.Cluster, pv string) []string {
	t.Helper()
	list := &storagev1.VolumeAttachmentList{}
	if err := c.Client().List(ctx, list); err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, va := range list.Items {
		if va.Spec.Source.PersistentVolumeName != nil && *va.Spec.Source.PersistentVolumeName == pv && va.Status.Attached {
			nodes = append(nodes, va.Spec.NodeName)
		}
	}
	return nodes
}

func pvOf(ctx context.Context, t *testing.T, c *sim.Cluster, ns string) string {
	t.Helper()
	pvc, err := c.Clientset().CoreV1().PersistentVolumeClaims(ns).Get(ctx, reference.PVC, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pvc.Spec.VolumeName
}

func TestDeletePodReplacementAttaches(t *testing.T) {
	c := startCluster(t, sim.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	old := deployReference(ctx, t, c, "ref", sim.LonghornClass)
	pv := pvOf(ctx, t, c, "ref")
	if got := attachedTo(ctx, t, c, pv); len(got) != 1 || got[0] != old.Spec.NodeName {
		t.Fatalf("volume attached to %v, want [%s]", got, old.Spec.NodeName)
	}
	if err := c.DeletePod(ctx, "ref", old.Name); err != nil {
		t.Fatal(err)
	}
	pods, err := sim.WaitForPods(ctx, c.Clientset(), "ref", reference.Selector, func(pods []corev1.Pod) bool {
		return len(pods) == 1 && pods[0].UID != old.UID && sim.PodReady(&pods[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	repl := pods[0]
	if repl.Status.Phase != corev1.PodRunning {
		t.Fatalf("replacement phase %s", repl.Status.Phase)
	}
	if got := attachedTo(ctx, t, c, pv); len(got) != 1 || got[0] != repl.Spec.NodeName {
		t.Fatalf("volume attached to %v, want [%s] (the replacement's node)", got, repl.Spec.NodeName)
	}
}
