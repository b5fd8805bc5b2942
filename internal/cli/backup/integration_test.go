package backup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/clitest"
)

// TestBackupVerbs runs `irisha backup create|list|describe` against a real
// API server. No operator runs: the test plays it, moving each backup
// through its phases only once the verb has printed the previous one, so
// every phase is seen to be shown as it changes.
func TestBackupVerbs(t *testing.T) {
	env := clitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := env.Namespace(t)
	c := env.Client
	createInstance(ctx, t, c, ns, "iris")

	t.Run("refuses an instance that does not exist", func(t *testing.T) {
		r := env.Irisha(ctx, "backup", "create", "nope", "-n", ns)
		wantError(t, r, "IrisInstance nope not found in namespace "+ns, "kubectl get iris")
	})

	t.Run("create --wait shows every phase and ends Completed", func(t *testing.T) {
		p := env.Start(ctx, "backup", "create", "iris", "--name", "bk1", "-n", ns, "--wait", "--timeout", "1m")
		p.WaitOutput(t, "irisbackup.irisha.dev/bk1 created")
		p.WaitOutput(t, "waiting for the irisha operator")
		for _, step := range []struct {
			phase v1alpha1.BackupPhase
			msg   string
		}{
			{v1alpha1.BackupFreezing, "Asking the agent of pod iris-0 to freeze IRIS"},
			{v1alpha1.BackupFrozen, "IRIS is frozen"},
			{v1alpha1.BackupSnapshotting, "IRIS is frozen; cutting VolumeSnapshot bk1"},
			{v1alpha1.BackupThawing, "VolumeSnapshot bk1 is cut; asking the agent to thaw IRIS"},
			{v1alpha1.BackupFinalizing, "IRIS thawed; waiting for VolumeSnapshot bk1 to be ready to use"},
			{v1alpha1.BackupCompleted, "VolumeSnapshot bk1 is ready to use; IRIS was frozen for 0.412 s"},
		} {
			setStatus(ctx, t, c, ns, "bk1", func(s *v1alpha1.IrisBackupStatus) {
				s.Phase, s.Message, s.SnapshotName = step.phase, step.msg, "bk1"
				if step.phase == v1alpha1.BackupCompleted {
					s.FrozenSeconds = "0.412"
				}
			})
			p.WaitOutput(t, fmt.Sprintf("%-12s  %s", step.phase, step.msg))
		}
		r := p.Wait()
		if r.Error != nil {
			t.Fatalf("create --wait failed on a Completed backup: %v\n%s", r.Error, r.Out)
		}
		assertOrder(t, r.Out, "created", "Created", "Freezing", "Frozen", "Snapshotting", "Thawing", "Finalizing", "Completed")
		if !regexp.MustCompile(`(?m)^ +\d+\.\ds  Completed +VolumeSnapshot bk1 is ready`).MatchString(r.Out) {
			t.Errorf("progress lines lack the elapsed time:\n%s", r.Out)
		}
	})

	t.Run("create --wait on a failure exits non-zero with the reason", func(t *testing.T) {
		p := env.Start(ctx, "backup", "create", "iris", "--name", "bk2", "-n", ns, "--wait")
		p.WaitOutput(t, "bk2 created")
		setStatus(ctx, t, c, ns, "bk2", func(s *v1alpha1.IrisBackupStatus) {
			s.Phase, s.Reason, s.SnapshotName = v1alpha1.BackupFailed, v1alpha1.BackupReasonThawDeadline, "bk2"
			s.Message = "The agent of pod iris-0 did not report the thaw"
		})
		r := p.Wait()
		wantError(t, r, "IrisBackup bk2 failed (ThawDeadline)", "did not report the thaw")
		if !strings.Contains(r.Out, "Failed        ThawDeadline: The agent") {
			t.Errorf("the failure is not among the progress lines:\n%s", r.Out)
		}
	})

	t.Run("a timeout says what is still happening", func(t *testing.T) {
		r := env.Irisha(ctx, "backup", "create", "iris", "--name", "bk3", "-n", ns, "--wait", "--timeout", "1s")
		wantError(t, r, "timed out after 1s waiting for IrisBackup bk3", "the operator has not started it", "irisha backup describe bk3 -n "+ns)

		p := env.Start(ctx, "backup", "create", "iris", "--name", "bk4", "-n", ns, "--wait", "--timeout", "2s")
		p.WaitOutput(t, "bk4 created")
		setStatus(ctx, t, c, ns, "bk4", func(s *v1alpha1.IrisBackupStatus) {
			s.Phase, s.Message = v1alpha1.BackupFinalizing, "waiting for VolumeSnapshot bk4 to be ready to use"
		})
		wantError(t, p.Wait(), "it is still Finalizing: waiting for VolumeSnapshot bk4 to be ready to use", "the backup goes on")
	})

	t.Run("refuses a name in use", func(t *testing.T) {
		wantError(t, env.Irisha(ctx, "backup", "create", "iris", "--name", "bk1", "-n", ns), "IrisBackup bk1 already exists", "another --name")
	})

	t.Run("flags become the spec; the name defaults to instance and UTC time", func(t *testing.T) {
		r := env.Irisha(ctx, "backup", "create", "iris", "-n", ns, "--offline", "--retain-snapshot",
			"--snapshot-class", "longhorn", "--max-frozen-seconds", "30")
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		m := regexp.MustCompile(`irisbackup.irisha.dev/(iris-\d{14}) created`).FindStringSubmatch(r.Out)
		if m == nil {
			t.Fatalf("no default name in %q", r.Out)
		}
		b := &v1alpha1.IrisBackup{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: m[1]}, b); err != nil {
			t.Fatal(err)
		}
		want := v1alpha1.IrisBackupSpec{InstanceName: "iris", Online: ptr.To(false), VolumeSnapshotClassName: "longhorn",
			MaxFrozenSeconds: 30, SnapshotDeletionPolicy: v1alpha1.SnapshotRetain}
		if got, _ := json.Marshal(b.Spec); string(got) != string(must(json.Marshal(want))) {
			t.Errorf("spec = %s, want %s", got, must(json.Marshal(want)))
		}
		if b.Labels[v1alpha1.LabelInstance] != "iris" {
			t.Errorf("labels = %v, want %s=iris", b.Labels, v1alpha1.LabelInstance)
		}
		wantError(t, env.Irisha(ctx, "backup", "create", "iris", "-n", ns, "--max-frozen-seconds", "1"), "out of range", "2 to 600")
	})

	t.Run("-o json prints the Completed backup alone on standard output", func(t *testing.T) {
		p := env.Start(ctx, "backup", "create", "iris", "--name", "bk5", "-n", ns, "--wait", "-o", "json")
		waitFor(ctx, t, c, ns, "bk5")
		setStatus(ctx, t, c, ns, "bk5", func(s *v1alpha1.IrisBackupStatus) {
			s.Phase, s.SnapshotName, s.Message = v1alpha1.BackupCompleted, "bk5", "done"
		})
		r := p.Wait()
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		var got v1alpha1.IrisBackup
		if err := json.Unmarshal([]byte(r.Out), &got); err != nil {
			t.Fatalf("standard output is not one JSON document: %v\n%s", err, r.Out)
		}
		if got.Kind != "IrisBackup" || got.APIVersion != "irisha.dev/v1alpha1" || got.Status.Phase != v1alpha1.BackupCompleted || got.ManagedFields != nil {
			t.Errorf("printed %s/%s phase %s managedFields %v", got.APIVersion, got.Kind, got.Status.Phase, got.ManagedFields)
		}
		if !strings.Contains(r.Err, "Completed") {
			t.Errorf("the progress did not go to standard error: %q", r.Err)
		}
	})

	t.Run("list: newest first, by instance, all namespaces", func(t *testing.T) {
		other := env.Namespace(t)
		createInstance(ctx, t, c, other, "iris")
		if r := env.Irisha(ctx, "backup", "create", "iris", "--name", "elsewhere", "-n", other); r.Error != nil {
			t.Fatal(r.Error)
		}
		if err := c.Create(ctx, &v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "of-another"},
			Spec: v1alpha1.IrisBackupSpec{InstanceName: "another"}}); err != nil {
			t.Fatal(err)
		}

		r := env.Irisha(ctx, "backup", "list", "iris", "-n", ns)
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		lines := strings.Split(strings.TrimSpace(r.Out), "\n")
		if !regexp.MustCompile(`^NAME +INSTANCE +PHASE +FROZEN +SNAPSHOT +AGE +REASON$`).MatchString(lines[0]) {
			t.Errorf("header = %q", lines[0])
		}
		if strings.Contains(r.Out, "of-another") || strings.Contains(r.Out, "elsewhere") {
			t.Errorf("list iris shows another instance's or namespace's backup:\n%s", r.Out)
		}
		if !regexp.MustCompile(`(?m)^bk1 +iris +Completed +0\.412s +bk1 +\d+s +-$`).MatchString(r.Out) ||
			!regexp.MustCompile(`(?m)^bk2 +iris +Failed +- +bk2 +\d+s +ThawDeadline$`).MatchString(r.Out) {
			t.Errorf("rows:\n%s", r.Out)
		}
		assertOrder(t, r.Out, "bk5", "bk4", "bk3", "bk2", "bk1")

		all := env.Irisha(ctx, "backup", "list", "-A")
		if all.Error != nil {
			t.Fatal(all.Error)
		}
		if !regexp.MustCompile(`(?m)^NAMESPACE +NAME +INSTANCE`).MatchString(all.Out) ||
			!regexp.MustCompile(`(?m)^`+other+` +elsewhere +iris +- `).MatchString(all.Out) ||
			!strings.Contains(all.Out, "of-another") {
			t.Errorf("list -A:\n%s", all.Out)
		}

		y := env.Irisha(ctx, "backup", "list", "iris", "-n", ns, "-o", "yaml")
		var list v1alpha1.IrisBackupList
		if err := yaml.Unmarshal([]byte(y.Out), &list); err != nil || y.Error != nil {
			t.Fatalf("list -o yaml: %v %v\n%s", err, y.Error, y.Out)
		}
		if list.Kind != "IrisBackupList" || len(list.Items) != 6 || list.Items[0].Kind != "IrisBackup" {
			t.Errorf("list -o yaml: kind %q, %d items", list.Kind, len(list.Items))
		}

		none := env.Irisha(ctx, "backup", "list", "nobody", "-n", ns)
		if none.Error != nil || none.Out != "" || !strings.Contains(none.Err, "No IrisBackups of IrisInstance nobody") {
			t.Errorf("an empty list: %v, out %q, err %q", none.Error, none.Out, none.Err)
		}
	})

	t.Run("describe: status, condition, snapshot, events", func(t *testing.T) {
		setStatus(ctx, t, c, ns, "bk1", func(s *v1alpha1.IrisBackupStatus) {
			s.PVC, s.Pod, s.VolumeSnapshotClassName, s.ThawedBy = "iris-data", "iris-0", "longhorn", v1alpha1.ThawRequested
			s.Conditions = []metav1.Condition{{Type: v1alpha1.BackupConditionCompleted, Status: metav1.ConditionTrue, Reason: "Completed",
				Message: "VolumeSnapshot bk1 is ready to use", LastTransitionTime: metav1.Now()}}
		})
		createSnapshot(ctx, t, c, ns, "bk1")
		b := &v1alpha1.IrisBackup{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bk1"}, b); err != nil {
			t.Fatal(err)
		}
		// The operator's recorder writes events.k8s.io Events.
		now := metav1.NewMicroTime(time.Now())
		ev := &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bk1.1"},
			EventTime:  now, ReportingController: "irisha-backup", ReportingInstance: "irisha-operator-0",
			Action: "Backup", Reason: "Completed", Type: corev1.EventTypeNormal, Note: "VolumeSnapshot bk1 is ready to use",
			Regarding: corev1.ObjectReference{APIVersion: "irisha.dev/v1alpha1", Kind: "IrisBackup", Namespace: ns, Name: "bk1", UID: b.UID},
		}
		if err := c.Create(ctx, ev); err != nil {
			t.Fatal(err)
		}

		r := env.Irisha(ctx, "backup", "describe", "bk1", "-n", ns)
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		for _, want := range []string{
			`(?m)^Name: +bk1$`,
			`(?m)^  Phase: +Completed$`,
			`(?m)^  Thawed at: +- \(on request\)$`,
			`(?m)^  Frozen seconds: +0\.412$`,
			`(?m)^  TYPE +STATUS +REASON +SINCE +MESSAGE\n  Completed +True +Completed +\S+ +VolumeSnapshot bk1 is ready to use$`,
			`(?m)^VolumeSnapshot:$`,
			`(?m)^  Ready to use: +true$`,
			`(?m)^  Restore size: +1Gi$`,
			`(?m)^    irisha.dev/iris-image: +containers.intersystems.com/intersystems/iris-community:2025.1$`,
			`(?m)^    irisha.dev/consistency: +frozen$`,
			`(?m)^  Normal +Completed +\d+s +irisha-backup +VolumeSnapshot bk1 is ready to use$`,
		} {
			if !regexp.MustCompile(want).MatchString(r.Out) {
				t.Errorf("describe lacks %s:\n%s", want, r.Out)
			}
		}
		if strings.Contains(r.Out, "unrelated.example.com") {
			t.Errorf("describe shows annotations that are not irisha's:\n%s", r.Out)
		}

		failed := env.Irisha(ctx, "backup", "describe", "bk2", "-n", ns)
		if failed.Error != nil || !regexp.MustCompile(`(?m)^VolumeSnapshot: +bk2 \(deleted: the backup failed`).MatchString(failed.Out) ||
			!strings.Contains(failed.Out, "Events:\n  <none>") {
			t.Errorf("describe of a failed backup: %v\n%s", failed.Error, failed.Out)
		}

		j := env.Irisha(ctx, "backup", "describe", "bk1", "-n", ns, "-o", "json")
		var doc struct {
			Backup         v1alpha1.IrisBackup        `json:"backup"`
			VolumeSnapshot *snapshotv1.VolumeSnapshot `json:"volumeSnapshot"`
			Events         []corev1.Event             `json:"events"`
		}
		if err := json.Unmarshal([]byte(j.Out), &doc); err != nil || j.Error != nil {
			t.Fatalf("describe -o json: %v %v\n%s", err, j.Error, j.Out)
		}
		if doc.Backup.Name != "bk1" || doc.VolumeSnapshot == nil || doc.VolumeSnapshot.Kind != "VolumeSnapshot" || len(doc.Events) != 1 {
			t.Errorf("describe -o json: %s", j.Out)
		}

		wantError(t, env.Irisha(ctx, "backup", "describe", "nope", "-n", ns), "IrisBackup nope not found", "irisha backup list")
	})
}

func createInstance(ctx context.Context, t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	inst := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.IrisInstanceSpec{
			Image:   "containers.intersystems.com/intersystems/iris-community:2025.1",
			Storage: v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")},
		},
	}
	if err := c.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
}

// createSnapshot makes the VolumeSnapshot the operator would have made for
// backup name, ready to use.
func createSnapshot(ctx context.Context, t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{v1alpha1.LabelInstance: "iris", v1alpha1.LabelBackup: name},
			Annotations: map[string]string{
				v1alpha1.AnnotationIrisImage:        "containers.intersystems.com/intersystems/iris-community:2025.1",
				v1alpha1.AnnotationStorageSize:      "1Gi",
				v1alpha1.AnnotationDataSubdirectory: "IRIS",
				v1alpha1.AnnotationConsistency:      "frozen",
				"unrelated.example.com/x":           "not shown",
			}},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To("iris-data")},
			VolumeSnapshotClassName: ptr.To("longhorn"),
		},
	}
	if err := c.Create(ctx, vs); err != nil {
		t.Fatal(err)
	}
	size := resource.MustParse("1Gi")
	vs.Status = &snapshotv1.VolumeSnapshotStatus{ReadyToUse: ptr.To(true), RestoreSize: &size,
		BoundVolumeSnapshotContentName: ptr.To("snapcontent-1"), CreationTime: ptr.To(metav1.Now())}
	if err := c.Status().Update(ctx, vs); err != nil {
		t.Fatal(err)
	}
}

// setStatus plays the operator: it changes the backup's status.
func setStatus(ctx context.Context, t *testing.T, c client.Client, ns, name string, change func(*v1alpha1.IrisBackupStatus)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		b := &v1alpha1.IrisBackup{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, b); err != nil {
			return err
		}
		change(&b.Status)
		return c.Status().Update(ctx, b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until the verb has created the backup.
func waitFor(ctx context.Context, t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.IrisBackup{}) == nil, nil
	})
	if err != nil {
		t.Fatalf("IrisBackup %s was never created: %v", name, err)
	}
}

func wantError(t *testing.T, r clitest.Run, wants ...string) {
	t.Helper()
	if r.Error == nil {
		t.Fatalf("no error; output:\n%s", r.Out)
	}
	for _, w := range wants {
		if !strings.Contains(r.Error.Error(), w) {
			t.Errorf("error %q does not say %q", r.Error, w)
		}
	}
}

func assertOrder(t *testing.T, out string, words ...string) {
	t.Helper()
	at := 0
	for _, w := range words {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Errorf("%q missing or out of order in:\n%s", w, out)
			return
		}
		at += i + len(w)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
