package simirisha_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
)

// TestVolumeGrowth: raising spec.storage.size grows the volume online under
// the running IRIS; on a class that grows only detached volumes, IRIS is
// stopped, the volume grown and IRIS started again; on a class without
// expansion nothing changes and a condition says why; autoGrow grows a
// filling volume and stops at its limit.
func TestVolumeGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a simulated cluster and runs irisha")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r := deployRunning(ctx, t, false)
	c, cl := r.b.cluster, r.b.client
	grow := func(name, size string) {
		t.Helper()
		inst := &v1alpha1.IrisInstance{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(inst.DeepCopy())
		inst.Spec.Storage.Size = resource.MustParse(size)
		if err := cl.Patch(ctx, inst, patch); err != nil {
			t.Fatal(err)
		}
	}
	grownTo := func(size string) func(*v1alpha1.IrisInstance) bool {
		want := resource.MustParse(size)
		return func(i *v1alpha1.IrisInstance) bool {
			return i.Status.Capacity != nil && i.Status.Capacity.Cmp(want) >= 0 && i.Status.Phase == v1alpha1.PhaseRunning &&
				meta.IsStatusConditionFalse(i.Status.Conditions, v1alpha1.ConditionResizing) && i.Status.Volume != nil && i.Status.Volume.Resize == nil
		}
	}

	// Online: the same IRIS keeps running.
	grow(instName, "2Gi")
	waitInstance(ctx, t, cl, instName, grownTo("2Gi"))
	r.checkUntouched(ctx, t)

	// A class without allowVolumeExpansion: refused by irisha, claim as it was.
	fixed := runInstance(ctx, t, cl, "fixed", sim.FixedSizeClass, nil)
	grow(fixed.Name, "2Gi")
	refused := waitInstance(ctx, t, cl, fixed.Name, func(i *v1alpha1.IrisInstance) bool {
		c := meta.FindStatusCondition(i.Status.Conditions, v1alpha1.ConditionVolumeGrowth)
		return c != nil && c.Status == "False" && c.Reason == "ExpansionNotAllowed"
	})
	if c := meta.FindStatusCondition(refused.Status.Conditions, v1alpha1.ConditionVolumeGrowth); c == nil || !strings.Contains(c.Message, sim.FixedSizeClass) {
		t.Errorf("the refusal names no class: %+v", c)
	}
	if got := claimRequest(ctx, t, cl, fixed); got.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("the fixed-size claim's request became %s", got.String())
	}

	// Offline: IRIS stopped, the volume grown detached, IRIS back.
	offline := runInstance(ctx, t, cl, "offline", sim.OfflineExpansionClass, nil)
	grow(offline.Name, "2Gi")
	waitInstance(ctx, t, cl, offline.Name, func(i *v1alpha1.IrisInstance) bool {
		return i.Status.Volume != nil && i.Status.Volume.Resize != nil && i.Status.Volume.Resize.Mode == v1alpha1.ResizeOffline
	})
	waitInstance(ctx, t, cl, offline.Name, grownTo("2Gi"))
	dir, err := simirisha.DataDir(ctx, c, offline)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := simirisha.CheckJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w := simirisha.Writers(entries); len(w) != 2 {
		t.Errorf("offline growth: journal writers %v, want the IRIS before and the one after", w)
	}

	// autoGrow: 90% used grows by half, to the limit and no further.
	auto := runInstance(ctx, t, cl, "auto", sim.LonghornClass, &v1alpha1.AutoGrowSpec{ThresholdPercent: 80, IncreasePercent: 50, Limit: resource.MustParse("2Gi")})
	pv := claim(ctx, t, cl, auto).Spec.VolumeName
	const gib = 1 << 30
	fill := func(bytes int64) {
		t.Helper()
		if err := c.SetVolumeUsed(pv, bytes); err != nil {
			t.Fatal(err)
		}
	}
	fill(9 * gib / 10)
	waitInstance(ctx, t, cl, auto.Name, grownTo("1536Mi"))
	fill(14 * gib / 10)
	waitInstance(ctx, t, cl, auto.Name, grownTo("2Gi"))
	fill(19 * gib / 10)
	atLimit := waitInstance(ctx, t, cl, auto.Name, func(i *v1alpha1.IrisInstance) bool {
		c := meta.FindStatusCondition(i.Status.Conditions, v1alpha1.ConditionVolumeGrowth)
		return c != nil && c.Status == "False" && c.Reason == "AutoGrowAtLimit"
	})
	if got := claimRequest(ctx, t, cl, auto); got.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Errorf("autoGrow at its limit: the claim requests %s, want 2Gi", got.String())
	}
	if atLimit.Status.Volume == nil || atLimit.Status.Volume.UsedBytes != 19*gib/10 {
		t.Errorf("status.volume %+v, want the agent's measure", atLimit.Status.Volume)
	}
}

// runInstance creates instance name on class and waits until it runs.
func runInstance(ctx context.Context, t *testing.T, cl client.Client, name, class string, auto *v1alpha1.AutoGrowSpec) *v1alpha1.IrisInstance {
	t.Helper()
	inst := newInstance(v1alpha1.FailoverLease, 5)
	inst.Name = name
	inst.Spec.Storage.ClassName = ptr.To(class)
	inst.Spec.Storage.AutoGrow = auto
	if err := cl.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	waitInstance(ctx, t, cl, name, func(i *v1alpha1.IrisInstance) bool { return i.Status.Phase == v1alpha1.PhaseRunning })
	return inst
}

func claim(ctx context.Context, t *testing.T, cl client.Client, inst *v1alpha1.IrisInstance) *corev1.PersistentVolumeClaim {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.PVCName(inst)}, pvc); err != nil {
		t.Fatal(err)
	}
	return pvc
}

func claimRequest(ctx context.Context, t *testing.T, cl client.Client, inst *v1alpha1.IrisInstance) resource.Quantity {
	t.Helper()
	return resources.StorageRequest(claim(ctx, t, cl, inst))
}
