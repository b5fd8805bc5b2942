package restore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/clitest"
	"github.com/irisha/irisha/internal/controller/instance"
)

const (
	image    = "containers.intersystems.com/intersystems/iris-community:2025.1"
	oldImage = "containers.intersystems.com/intersystems/iris-community:2024.1"
)

// TestRestore runs `irisha restore` against a real API server, the test
// playing the operator: every refusal happens before anything is created,
// the spec is copied from the instance that was backed up or rebuilt from
// the snapshot, and --wait follows the new instance until it runs.
func TestRestore(t *testing.T) {
	env := clitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := env.Namespace(t)
	c := env.Client

	src := &v1alpha1.IrisInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iris"},
		Spec: v1alpha1.IrisInstanceSpec{
			Image: image,
			Storage: v1alpha1.StorageSpec{ClassName: ptr.To("longhorn"), Size: resource.MustParse("20Gi"),
				AutoGrow: &v1alpha1.AutoGrowSpec{Limit: resource.MustParse("100Gi")}},
			Config:         &v1alpha1.ConfigSpec{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "iris-cpf"}},
			PasswordSecret: &v1alpha1.PasswordSecretRef{Name: "iris-password"},
			Service:        v1alpha1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Annotations: map[string]string{"metallb.universe.tf/loadBalancerIPs": "10.0.0.5"}},
		},
	}
	must(t, c.Create(ctx, src))
	backup(ctx, t, c, ns, "bk", "iris", v1alpha1.BackupCompleted, "")
	snapshot(ctx, t, c, ns, "bk", "iris", true)
	backup(ctx, t, c, ns, "running", "iris", v1alpha1.BackupSnapshotting, "")
	backup(ctx, t, c, ns, "failed", "iris", v1alpha1.BackupFailed, v1alpha1.BackupReasonFreezeTimeout)
	snapshot(ctx, t, c, ns, "uploading", "iris", false)

	t.Run("refusals, before anything is created", func(t *testing.T) {
		must(t, c.Create(ctx, &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken-data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		}))
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"--from", "bk", "--name", "iris"}, []string{"IrisInstance iris already exists", "never writes over one", "another --name"}},
			{[]string{"--from", "running", "--name", "x"}, []string{"IrisBackup running is Snapshotting, not Completed", "wait for it"}},
			{[]string{"--from", "failed", "--name", "x"}, []string{"IrisBackup failed failed (FreezeTimeout)", "pick a Completed one", "irisha backup list iris"}},
			{[]string{"--from", "nope", "--name", "x"}, []string{"IrisBackup nope not found in namespace " + ns, "--from-snapshot"}},
			{[]string{"--from-snapshot", "uploading", "--name", "x"}, []string{"VolumeSnapshot uploading cannot be restored yet", "not ready to use"}},
			{[]string{"--from-snapshot", "nope", "--name", "x"}, []string{"VolumeSnapshot nope not found"}},
			{[]string{"--from", "bk", "--name", "taken"}, []string{"PersistentVolumeClaim taken-data already exists", "was not created from IrisBackup/bk", "kubectl delete pvc taken-data"}},
			{[]string{"--name", "x"}, []string{"--from BACKUP"}},
			{[]string{"--from", "bk", "--from-snapshot", "bk", "--name", "x"}, []string{"not both"}},
			{[]string{"--from", "bk"}, []string{"--name NEW-INSTANCE"}},
			{[]string{"--from", "bk", "--name", "Iris_2"}, []string{`--name "Iris_2" cannot name an IrisInstance`}},
		} {
			r := env.Irisha(ctx, append([]string{"restore", "-n", ns}, tc.args...)...)
			if r.Error == nil {
				t.Errorf("%v: accepted:\n%s", tc.args, r.Out)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Error.Error(), w) {
					t.Errorf("%v: error %q does not say %q", tc.args, r.Error, w)
				}
			}
		}
		list := &v1alpha1.IrisInstanceList{}
		must(t, c.List(ctx, list, client.InNamespace(ns)))
		if len(list.Items) != 1 {
			t.Errorf("a refused restore created an instance: %d instances", len(list.Items))
		}
	})

	t.Run("copies the spec of the instance that was backed up", func(t *testing.T) {
		r := env.Irisha(ctx, "restore", "--from", "bk", "--name", "iris-restored", "-n", ns)
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		for _, want := range []string{
			"irisinstance.irisha.dev/iris-restored created from IrisBackup bk, IrisInstance iris",
			"Note: the backup was taken with image " + oldImage + "; the new instance runs " + image,
			"Note: the Service annotations of IrisInstance iris were copied",
		} {
			if !strings.Contains(r.Out, want) {
				t.Errorf("output lacks %q:\n%s", want, r.Out)
			}
		}
		got := get(ctx, t, c, ns, "iris-restored")
		must(t, c.Get(ctx, client.ObjectKeyFromObject(src), src))
		want := src.Spec.DeepCopy() // as the API server defaulted it
		want.RestoreFrom = &v1alpha1.RestoreSource{BackupName: "bk"}
		if !equality.Semantic.DeepEqual(got.Spec, *want) {
			t.Errorf("spec:\n%s\nwant:\n%s", asYAML(got.Spec), asYAML(want))
		}
	})

	t.Run("rebuilds the spec from the snapshot when the instance is gone", func(t *testing.T) {
		backup(ctx, t, c, ns, "gone-bk", "gone", v1alpha1.BackupCompleted, "")
		snapshot(ctx, t, c, ns, "gone-bk", "gone", true)
		// The claim that was snapshotted outlived its instance (Retain).
		must(t, c.Create(ctx, &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gone-data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: ptr.To("longhorn"),
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		}))
		r := env.Irisha(ctx, "restore", "--from", "gone-bk", "--name", "back", "-n", ns)
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		if !strings.Contains(r.Out, "Note: IrisInstance gone no longer exists, so the spec was rebuilt") ||
			!strings.Contains(r.Out, "storage class longhorn from the claim") || !strings.Contains(r.Out, "kubectl edit iris back") {
			t.Errorf("output:\n%s", r.Out)
		}
		got := get(ctx, t, c, ns, "back")
		s := got.Spec
		if s.Image != oldImage || s.Storage.Size.String() != "10Gi" || s.Storage.DataSubdirectory != "data" ||
			ptr.Deref(s.Storage.ClassName, "") != "longhorn" || s.RestoreFrom == nil || s.RestoreFrom.BackupName != "gone-bk" || s.Config != nil {
			t.Errorf("rebuilt spec:\n%s", asYAML(s))
		}
	})

	t.Run("--from-snapshot restores a snapshot kept without its backup", func(t *testing.T) {
		snapshot(ctx, t, c, ns, "kept", "iris", true)
		r := env.Irisha(ctx, "restore", "--from-snapshot", "kept", "--name", "from-kept", "-n", ns, "-o", "yaml")
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		var printed v1alpha1.IrisInstance
		if err := yaml.UnmarshalStrict([]byte(r.Out), &printed); err != nil {
			t.Fatalf("standard output is not the instance: %v\n%s", err, r.Out)
		}
		if printed.Kind != "IrisInstance" || printed.Spec.RestoreFrom == nil || printed.Spec.RestoreFrom.VolumeSnapshotName != "kept" ||
			printed.Spec.Image != image || printed.Spec.PasswordSecret == nil {
			t.Errorf("printed:\n%s", r.Out)
		}
		if !strings.Contains(r.Err, "created from VolumeSnapshot kept, IrisInstance iris") {
			t.Errorf("standard error: %q", r.Err)
		}
	})

	t.Run("--wait follows the instance until it runs", func(t *testing.T) {
		p := env.Start(ctx, "restore", "--from", "bk", "--name", "waited", "-n", ns, "--wait", "--timeout", "1m")
		p.WaitOutput(t, "irisinstance.irisha.dev/waited created")
		p.WaitOutput(t, "Created   waiting for the irisha operator")
		setInstanceStatus(ctx, t, c, ns, "waited", v1alpha1.PhasePending,
			cond(v1alpha1.ConditionRestored, metav1.ConditionFalse, instance.ReasonRestorePending, "VolumeSnapshot bk is not ready to use yet"))
		p.WaitOutput(t, "Pending   Restored=False SourceNotReady: VolumeSnapshot bk is not ready to use yet")
		setInstanceStatus(ctx, t, c, ns, "waited", v1alpha1.PhaseStarting,
			cond(v1alpha1.ConditionRestored, metav1.ConditionTrue, instance.ReasonRestored, "Creating the volume from VolumeSnapshot bk (IrisBackup/bk)"),
			cond(v1alpha1.ConditionReady, metav1.ConditionFalse, instance.ReasonPodStarting, "pod waited-0 is running, not ready"))
		p.WaitOutput(t, "Starting  Ready=False PodStarting: pod waited-0 is running, not ready")
		setInstanceStatus(ctx, t, c, ns, "waited", v1alpha1.PhaseRunning,
			cond(v1alpha1.ConditionRestored, metav1.ConditionTrue, instance.ReasonRestored, "The volume was created from IrisBackup/bk"),
			cond(v1alpha1.ConditionReady, metav1.ConditionTrue, instance.ReasonPodReady, "IRIS is ready in pod waited-0 on node n1"))
		r := p.Wait()
		if r.Error != nil {
			t.Fatalf("%v\n%s", r.Error, r.Out)
		}
		if !strings.Contains(r.Out, "Running   Ready=True PodReady: IRIS is ready in pod waited-0 on node n1") {
			t.Errorf("output:\n%s", r.Out)
		}
	})

	t.Run("--wait exits non-zero when the source cannot be restored", func(t *testing.T) {
		p := env.Start(ctx, "restore", "--from", "bk", "--name", "doomed", "-n", ns, "--wait")
		p.WaitOutput(t, "doomed created")
		setInstanceStatus(ctx, t, c, ns, "doomed", v1alpha1.PhasePending,
			cond(v1alpha1.ConditionRestored, metav1.ConditionFalse, instance.ReasonRestoreFailed, "VolumeSnapshot bk failed: disk gone"))
		r := p.Wait()
		if r.Error == nil || !strings.Contains(r.Error.Error(), "IrisInstance doomed cannot be restored (SourceFailed): VolumeSnapshot bk failed: disk gone") {
			t.Errorf("error %v", r.Error)
		}

		r = env.Irisha(ctx, "restore", "--from", "bk", "--name", "slow", "-n", ns, "--wait", "--timeout", "1s")
		if r.Error == nil || !strings.Contains(r.Error.Error(), "timed out after 1s waiting for IrisInstance slow to be Running") ||
			!strings.Contains(r.Error.Error(), "kubectl get iris slow -n "+ns) {
			t.Errorf("error %v", r.Error)
		}
	})
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: 1, LastTransitionTime: metav1.Now()}
}

// setInstanceStatus plays the operator.
func setInstanceStatus(ctx context.Context, t *testing.T, c client.Client, ns, name string, phase v1alpha1.Phase, conds ...metav1.Condition) {
	t.Helper()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		inst := &v1alpha1.IrisInstance{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst); err != nil {
			return err
		}
		inst.Status.ObservedGeneration, inst.Status.Phase, inst.Status.Conditions = inst.Generation, phase, conds
		return c.Status().Update(ctx, inst)
	}))
}

func backup(ctx context.Context, t *testing.T, c client.Client, ns, name, instanceName string, phase v1alpha1.BackupPhase, reason string) {
	t.Helper()
	b := &v1alpha1.IrisBackup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.IrisBackupSpec{InstanceName: instanceName}}
	must(t, c.Create(ctx, b))
	b.Status = v1alpha1.IrisBackupStatus{Phase: phase, Reason: reason, SnapshotName: name, PVC: instanceName + "-data"}
	must(t, c.Status().Update(ctx, b))
}

// snapshot is the VolumeSnapshot the operator cuts for a backup of
// instanceName, which ran the old image with data in "data".
func snapshot(ctx context.Context, t *testing.T, c client.Client, ns, name, instanceName string, ready bool) {
	t.Helper()
	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{v1alpha1.LabelInstance: instanceName, v1alpha1.LabelBackup: name},
			Annotations: map[string]string{
				v1alpha1.AnnotationIrisImage:        oldImage,
				v1alpha1.AnnotationStorageSize:      "10Gi",
				v1alpha1.AnnotationDataSubdirectory: "data",
			}},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To(instanceName + "-data")},
			VolumeSnapshotClassName: ptr.To("longhorn"),
		},
	}
	must(t, c.Create(ctx, vs))
	size := resource.MustParse("10Gi")
	vs.Status = &snapshotv1.VolumeSnapshotStatus{ReadyToUse: ptr.To(ready), RestoreSize: &size}
	must(t, c.Status().Update(ctx, vs))
}

func get(ctx context.Context, t *testing.T, c client.Client, ns, name string) *v1alpha1.IrisInstance {
	t.Helper()
	inst := &v1alpha1.IrisInstance{}
	must(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst))
	return inst
}

func asYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
