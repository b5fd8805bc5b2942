package backup_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/backup"
	"github.com/irisha/irisha/internal/testenv"
)

// TestScheduleAndRetention runs the schedule controller against a real API
// server, on a fake clock: an immediate first backup, one backup per
// scheduled time, one only for five missed hours, and retention that
// keeps exactly keep of the schedule's own Completed backups and never
// touches a hand-made backup that carries the schedule's label.
func TestScheduleAndRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	start := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	clock := clocktesting.NewFakeClock(start)
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&backup.ScheduleReconciler{Client: mgr.GetClient(), Clock: clock}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		if err := mgr.Start(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	cl := env.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "schedule-"}}
	if err := cl.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}

	long := &v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: strings.Repeat("b", 64)}, Spec: v1alpha1.IrisBackupSpec{InstanceName: "iris"}}
	if err := cl.Create(ctx, long); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "63 characters") {
		t.Errorf("a 64-character backup name: %v, want Invalid (its snapshot's label could not hold it)", err)
	}

	// A backup made by hand, older than all, Completed, with the
	// schedule's label copied onto it.
	hand := &v1alpha1.IrisBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "by-hand", Labels: map[string]string{v1alpha1.LabelScheduledBackup: "hourly"}},
		Spec:       v1alpha1.IrisBackupSpec{InstanceName: "iris"},
	}
	if err := cl.Create(ctx, hand); err != nil {
		t.Fatal(err)
	}
	complete(ctx, t, cl, hand)

	sb := &v1alpha1.IrisScheduledBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "hourly"},
		Spec: v1alpha1.IrisScheduledBackupSpec{
			Schedule: "0 0 * * * *", Immediate: true,
			Template:  v1alpha1.IrisBackupSpec{InstanceName: "iris"},
			Retention: &v1alpha1.RetentionPolicy{Keep: ptr.To[int32](2)},
		},
	}
	if err := cl.Create(ctx, sb); err != nil {
		t.Fatal(err)
	}
	want := []string{backup.BackupNameAt("hourly", start.Truncate(time.Second))}
	waitOwn(ctx, t, cl, ns.Name, want)

	// Each hour, one backup; each completes before the next.
	for h := 1; h <= 3; h++ {
		completeAll(ctx, t, cl, ns.Name)
		clock.SetTime(start.Add(time.Duration(h) * time.Hour))
		poke(ctx, t, cl, sb)
		want = append(want, backup.BackupNameAt("hourly", time.Date(2026, 12, 1, 10+h, 0, 0, 0, time.UTC)))
		if len(want) > 2 {
			// The third Completed one, and older, go.
			want = want[len(want)-3:]
		}
		waitOwn(ctx, t, cl, ns.Name, want)
	}
	// Five hours without the operator: one backup, for the latest time.
	completeAll(ctx, t, cl, ns.Name)
	clock.SetTime(start.Add(8 * time.Hour))
	poke(ctx, t, cl, sb)
	latest := backup.BackupNameAt("hourly", time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	want = append(want[len(want)-2:], latest)
	waitOwn(ctx, t, cl, ns.Name, want)
	completeAll(ctx, t, cl, ns.Name)
	poke(ctx, t, cl, sb)
	waitOwn(ctx, t, cl, ns.Name, want[len(want)-2:])

	if err := cl.Get(ctx, client.ObjectKeyFromObject(hand), &v1alpha1.IrisBackup{}); err != nil {
		t.Errorf("the hand-made backup: %v", err)
	}
	got := &v1alpha1.IrisScheduledBackup{}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(sb), got); err != nil {
			return false, err
		}
		s := got.Status
		return s.LastBackupName == latest && s.LastCompletedBackupName == latest && s.NextScheduleTime != nil &&
			s.NextScheduleTime.Time.Equal(time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC)), nil
	})
	if err != nil {
		t.Errorf("schedule status %+v: %v", got.Status, err)
	}
}

// waitOwn waits until the schedule's backups (hand-made ones aside) are
// exactly want, in any order.
func waitOwn(ctx context.Context, t *testing.T, cl client.Client, ns string, want []string) {
	t.Helper()
	var names []string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		list := &v1alpha1.IrisBackupList{}
		if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		names = nil
		for _, b := range list.Items {
			if b.Name != "by-hand" {
				names = append(names, b.Name)
			}
		}
		slices.Sort(names)
		w := slices.Sorted(slices.Values(want))
		return slices.Equal(names, w), nil
	})
	if err != nil {
		t.Fatalf("the schedule's backups are %v, want %v", names, want)
	}
}

func completeAll(ctx context.Context, t *testing.T, cl client.Client, ns string) {
	t.Helper()
	list := &v1alpha1.IrisBackupList{}
	if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if !list.Items[i].Status.Phase.Ended() {
			complete(ctx, t, cl, &list.Items[i])
		}
	}
}

// complete plays the backup controller, which does not run here.
func complete(ctx context.Context, t *testing.T, cl client.Client, b *v1alpha1.IrisBackup) {
	t.Helper()
	b.Status.Phase = v1alpha1.BackupCompleted
	if err := cl.Status().Update(ctx, b); err != nil {
		t.Fatal(err)
	}
}

// poke makes the controller look at the schedule now: on a fake clock, its
// own requeue (real time) would come an hour late.
func poke(ctx context.Context, t *testing.T, cl client.Client, sb *v1alpha1.IrisScheduledBackup) {
	t.Helper()
	patch := client.MergeFrom(sb.DeepCopy())
	if sb.Annotations == nil {
		sb.Annotations = map[string]string{}
	}
	sb.Annotations["test/poke"] = time.Now().String()
	if err := cl.Patch(ctx, sb, patch); err != nil {
		t.Fatal(err)
	}
}
