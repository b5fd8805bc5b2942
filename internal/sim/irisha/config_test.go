package simirisha_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

// TestConfigMerge changes spec.config of a running instance whose merge
// file is a Secret volume updated by symlink swap, which the fake IRIS (like,
// for all anyone knows, the real one) does not notice: the agent's own
// `iris merge` must apply it. A live setting is in effect within seconds
// with the same IRIS process; gmheap restarts IRIS exactly once in the same
// pod, the Lease released and taken back, one writer at every moment; a
// change IRIS refuses leaves the old configuration running and says why;
// fixing it applies it.
func TestConfigMerge(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b := bootRunner(ctx, t, false, simirisha.OperatorOptions{}, simirisha.RunnerOptions{SecretVolumes: t.TempDir()})
	c, cl := b.cluster, b.client
	cs := c.Clientset()
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	inst := newInstance(v1alpha1.FailoverLease, 10)
	inst.Spec.Config = &v1alpha1.ConfigSpec{MergeText: ptr.To("[SQL]\nDefaultSchema=first\n")}
	leaseName := resources.FencingLeaseName(inst)
	if err := cl.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	selector := resources.LabelIrisInstance + "=" + instName
	pods, err := sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) })
	if err != nil {
		t.Fatal(err)
	}
	pod := pods[0]
	dataDir, err := simirisha.DataDir(ctx, c, inst)
	if err != nil {
		t.Fatal(err)
	}
	effective := func(section, key string) string {
		t.Helper()
		v, _, err := fakeiris.Effective(dataDir, section, key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	writers := func() []int {
		t.Helper()
		entries, err := simirisha.CheckJournal(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		w := simirisha.Writers(entries)
		b.daemons = append(b.daemons, w...)
		return w
	}
	restarts := func() int32 {
		t.Helper()
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.UID != pod.UID {
			t.Fatalf("pod %s was replaced", pod.Name)
		}
		return p.Status.ContainerStatuses[0].RestartCount
	}
	waitApplied(ctx, t, cl, "[SQL]\nDefaultSchema=first\n")
	if got := effective("SQL", "DefaultSchema"); got != "first" {
		t.Fatalf("merged at start: DefaultSchema=%q", got)
	}
	first := writers()
	if len(first) != 1 {
		t.Fatalf("journal writers %v after the start", first)
	}

	// A live setting: same IRIS process, within seconds.
	changed := time.Now()
	setMergeText(ctx, t, cl, "[SQL]\nDefaultSchema=second\n")
	waitFor(ctx, t, "DefaultSchema=second in the running IRIS", func() bool { return effective("SQL", "DefaultSchema") == "second" })
	t.Logf("live change in effect %s after the spec changed", time.Since(changed).Round(time.Millisecond))
	if took := time.Since(changed); took > 15*time.Second {
		t.Errorf("the live change took %s", took)
	}
	waitApplied(ctx, t, cl, "[SQL]\nDefaultSchema=second\n")
	if w := writers(); !slices.Equal(w, first) || restarts() != 0 {
		t.Fatalf("a live change restarted IRIS: writers %v, %d container restarts", w, restarts())
	}

	// A setting that needs a restart: one planned restart, same pod and
	// volume, the Lease released and taken back by the same pod.
	holders := watchHolders(ctx, t, cs, leaseName)
	restartText := "[SQL]\nDefaultSchema=second\n[config]\ngmheap=65536\n"
	setMergeText(ctx, t, cl, restartText)
	waitFor(ctx, t, "gmheap=65536 in the running IRIS", func() bool { return effective("config", "gmheap") == "65536" })
	waitApplied(ctx, t, cl, restartText)
	if _, err := sim.WaitForPods(ctx, cs, ns, selector, func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) }); err != nil {
		t.Fatal(err)
	}
	w := writers() // W1 checked on the journal
	if len(w) != 2 || w[0] != first[0] || restarts() != 1 {
		t.Fatalf("after the gmheap change: writers %v (want %d then one more), %d container restarts (want 1)", w, first[0], restarts())
	}
	if got, want := holders.seen(), []string{identity(&pod), "", identity(&pod)}; !slices.Equal(got, want) {
		t.Errorf("Lease holders %q, want %q (released, then taken back by the same pod)", got, want)
	}
	if got := effective("SQL", "DefaultSchema"); got != "second" {
		t.Errorf("after the restart DefaultSchema=%q", got)
	}
	waitEvent(ctx, t, cs, "ConfigRestarting")

	// A change IRIS refuses: the old configuration keeps running.
	setMergeText(ctx, t, cl, "[SQL]\nDefaultSchema=third\n[config]\ngmheap=100\n")
	cond := waitCondition(ctx, t, cl, func(c *metav1.Condition) bool { return c.Reason == "Refused" })
	if cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "outside the range") {
		t.Errorf("ConfigApplied after a refusal: %+v", cond)
	}
	if effective("SQL", "DefaultSchema") != "second" || effective("config", "gmheap") != "65536" {
		t.Errorf("a refused change altered the running configuration: DefaultSchema=%s gmheap=%s",
			effective("SQL", "DefaultSchema"), effective("config", "gmheap"))
	}
	if got := writers(); !slices.Equal(got, w) || restarts() != 1 {
		t.Errorf("a refused change restarted IRIS: writers %v, %d container restarts", got, restarts())
	}

	// The fix is applied live.
	fixed := "[SQL]\nDefaultSchema=third\n[config]\ngmheap=65536\n"
	setMergeText(ctx, t, cl, fixed)
	waitApplied(ctx, t, cl, fixed)
	if got := effective("SQL", "DefaultSchema"); got != "third" {
		t.Errorf("after the fix DefaultSchema=%q", got)
	}
	if got := writers(); !slices.Equal(got, w) || restarts() != 1 {
		t.Errorf("the fix restarted IRIS: writers %v, %d container restarts", got, restarts())
	}
}

// setMergeText sets spec.config.mergeText.
func setMergeText(ctx context.Context, t *testing.T, cl client.Client, text string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		inst := &v1alpha1.IrisInstance{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: instName}, inst); err != nil {
			return err
		}
		inst.Spec.Config = &v1alpha1.ConfigSpec{MergeText: ptr.To(text)}
		return cl.Update(ctx, inst)
	})
	if err != nil {
		t.Fatalf("setting spec.config.mergeText: %v", err)
	}
}

// waitCondition polls the instance until its ConfigApplied condition
// satisfies ok.
func waitCondition(ctx context.Context, t *testing.T, cl client.Client, ok func(*metav1.Condition) bool) metav1.Condition {
	t.Helper()
	var last *metav1.Condition
	for {
		inst := &v1alpha1.IrisInstance{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: instName}, inst); err == nil {
			if last = meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionConfigApplied); last != nil && ok(last) {
				return *last
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for ConfigApplied; last %+v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitApplied waits for ConfigApplied True on the merge text the operator
// renders from mergeText (plus the ShutdownTimeout it owns).
func waitApplied(ctx context.Context, t *testing.T, cl client.Client, mergeText string) {
	t.Helper()
	inst := &v1alpha1.IrisInstance{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: instName}, inst); err != nil {
		t.Fatal(err)
	}
	merge, err := resources.EffectiveMerge(resources.Inputs{Instance: inst, MergeText: mergeText})
	if err != nil {
		t.Fatal(err)
	}
	hash := iris.MergeHash([]byte(merge))
	waitCondition(ctx, t, cl, func(c *metav1.Condition) bool {
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, hash)
	})
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitEvent waits for an Event of the instance with reason.
func waitEvent(ctx context.Context, t *testing.T, cs kubernetes.Interface, reason string) {
	t.Helper()
	sel := fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.name", instName),
		fields.OneTermEqualSelector("reason", reason),
	).String()
	waitFor(ctx, t, fmt.Sprintf("an Event %s", reason), func() bool {
		list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		return err == nil && len(list.Items) > 0
	})
}
