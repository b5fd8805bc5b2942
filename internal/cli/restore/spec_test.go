package restore

import (
	"strings"
	"testing"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/controller/instance"
)

func snap(ann map[string]string, restoreSize string) *snapshotv1.VolumeSnapshot {
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: ann}}
	if restoreSize != "" {
		q := resource.MustParse(restoreSize)
		vs.Status = &snapshotv1.VolumeSnapshotStatus{RestoreSize: &q}
	}
	return vs
}

func TestSpecFromSnapshot(t *testing.T) {
	src := v1alpha1.RestoreSource{VolumeSnapshotName: "s"}
	full := map[string]string{v1alpha1.AnnotationIrisImage: "iris:1", v1alpha1.AnnotationStorageSize: "10Gi", v1alpha1.AnnotationDataSubdirectory: "IRIS"}
	spec, err := specFromSnapshot(snap(full, "12Gi"), ptr.To("longhorn"), src)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Image != "iris:1" || spec.Storage.Size.String() != "10Gi" || spec.Storage.DataSubdirectory != "IRIS" ||
		*spec.Storage.ClassName != "longhorn" || spec.RestoreFrom.VolumeSnapshotName != "s" {
		t.Errorf("spec %+v", spec)
	}

	// Without the size annotation, the snapshot's restore size.
	spec, err = specFromSnapshot(snap(map[string]string{v1alpha1.AnnotationIrisImage: "iris:1"}, "12Gi"), nil, src)
	if err != nil || spec.Storage.Size.String() != "12Gi" || spec.Storage.ClassName != nil {
		t.Errorf("spec %+v, %v", spec, err)
	}

	for name, tc := range map[string]struct {
		vs   *snapshotv1.VolumeSnapshot
		want []string
	}{
		"no image":    {snap(map[string]string{v1alpha1.AnnotationStorageSize: "1Gi"}, ""), []string{"no annotation irisha.dev/iris-image", "spec.restoreFrom.volumeSnapshotName: s"}},
		"no size":     {snap(map[string]string{v1alpha1.AnnotationIrisImage: "i"}, ""), []string{"neither the annotation irisha.dev/storage-size nor a restore size"}},
		"bad size":    {snap(map[string]string{v1alpha1.AnnotationIrisImage: "i", v1alpha1.AnnotationStorageSize: "ten"}, ""), []string{`irisha.dev/storage-size="ten" is not a size`}},
		"no anything": {snap(nil, "1Gi"), []string{"no annotation irisha.dev/iris-image"}},
	} {
		_, err := specFromSnapshot(tc.vs, nil, src)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
	}
}

func TestSpecFromInstanceReplacesTheSource(t *testing.T) {
	from := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: "iris"}, Spec: v1alpha1.IrisInstanceSpec{
		Image: "iris:2", RestoreFrom: &v1alpha1.RestoreSource{BackupName: "older"}}}
	spec, notes := specFromInstance(from, snap(map[string]string{v1alpha1.AnnotationIrisImage: "iris:2"}, ""), v1alpha1.RestoreSource{BackupName: "b"})
	if spec.RestoreFrom.BackupName != "b" || from.Spec.RestoreFrom.BackupName != "older" {
		t.Errorf("restoreFrom %+v; the source's %+v", spec.RestoreFrom, from.Spec.RestoreFrom)
	}
	if len(notes) != 0 {
		t.Errorf("notes for the same image and no Service annotations: %q", notes)
	}
}

func TestProgressAndOutcome(t *testing.T) {
	c := func(typ string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg}
	}
	restoreFrom := &v1alpha1.RestoreSource{BackupName: "b"}
	for _, tc := range []struct {
		name   string
		status v1alpha1.IrisInstanceStatus
		line   string
		done   bool
		err    string
	}{
		{"not seen yet", v1alpha1.IrisInstanceStatus{},
			"   0.0s  Created   waiting for the irisha operator", false, ""},
		{"an older generation", v1alpha1.IrisInstanceStatus{ObservedGeneration: 1, Phase: v1alpha1.PhaseRunning,
			Conditions: []metav1.Condition{c(v1alpha1.ConditionReady, "True", "PodReady", "")}},
			"   0.0s  Running   waiting for the volume to be created from IrisBackup/b", false, ""},
		{"source not ready", v1alpha1.IrisInstanceStatus{ObservedGeneration: 2, Phase: v1alpha1.PhasePending,
			Conditions: []metav1.Condition{c(v1alpha1.ConditionRestored, "False", instance.ReasonRestorePending, "IrisBackup b is Finalizing")}},
			"   0.0s  Pending   Restored=False SourceNotReady: IrisBackup b is Finalizing", false, ""},
		{"degraded says most", v1alpha1.IrisInstanceStatus{ObservedGeneration: 2, Phase: v1alpha1.PhaseDegraded,
			Conditions: []metav1.Condition{
				c(v1alpha1.ConditionRestored, "True", instance.ReasonRestored, "ok"),
				c(v1alpha1.ConditionDegraded, "True", instance.ReasonInvalidReference, "Secret iris-password not found")}},
			"   0.0s  Degraded  Degraded=True InvalidReference: Secret iris-password not found", false, ""},
		{"claim in the way", v1alpha1.IrisInstanceStatus{ObservedGeneration: 2, Phase: v1alpha1.PhasePending,
			Conditions: []metav1.Condition{c(v1alpha1.ConditionRestored, "False", instance.ReasonRestoreConflict, "PersistentVolumeClaim x-data already exists")}},
			"   0.0s  Pending   Restored=False VolumeExists: PersistentVolumeClaim x-data already exists", false, "cannot be restored (VolumeExists)"},
		{"running", v1alpha1.IrisInstanceStatus{ObservedGeneration: 2, Phase: v1alpha1.PhaseRunning,
			Conditions: []metav1.Condition{
				c(v1alpha1.ConditionRestored, "True", instance.ReasonRestored, "The volume was created from IrisBackup/b"),
				c(v1alpha1.ConditionReady, "True", instance.ReasonPodReady, "IRIS is ready in pod p on node n")}},
			"   0.0s  Running   Ready=True PodReady: IRIS is ready in pod p on node n", true, ""},
	} {
		inst := &v1alpha1.IrisInstance{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 2},
			Spec: v1alpha1.IrisInstanceSpec{RestoreFrom: restoreFrom}, Status: tc.status}
		if got := progressOf(inst).Line(0 * time.Second); got != tc.line {
			t.Errorf("%s: line\n%q, want\n%q", tc.name, got, tc.line)
		}
		done, err := outcome(inst, 2)
		if done != tc.done || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: outcome %v, %v; want %v, %q", tc.name, done, err, tc.done, tc.err)
		}
	}
}
