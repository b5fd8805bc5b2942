package restore

import (
	"fmt"
	"strings"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/cli/kube"
	"github.com/irisha/irisha/internal/controller/instance"
	"github.com/irisha/irisha/internal/resources"
)

// specFromInstance is the new instance's spec when the instance that was
// backed up still exists: a copy of its spec, restored from src. notes
// say what the user may want to check.
func specFromInstance(from *v1alpha1.IrisInstance, vs *snapshotv1.VolumeSnapshot, src v1alpha1.RestoreSource) (v1alpha1.IrisInstanceSpec, []string) {
	spec := *from.Spec.DeepCopy()
	spec.RestoreFrom = &src
	var notes []string
	if vs != nil {
		if img := vs.Annotations[v1alpha1.AnnotationIrisImage]; img != "" && img != spec.Image {
			notes = append(notes, fmt.Sprintf("the backup was taken with image %s; the new instance runs %s, the image IrisInstance %s runs now", img, spec.Image, from.Name))
		}
	}
	if len(spec.Service.Annotations) > 0 {
		notes = append(notes, fmt.Sprintf("the Service annotations of IrisInstance %s were copied: check that none asks for an address its Service holds", from.Name))
	}
	return spec, notes
}

// specFromSnapshot is the new instance's spec when the instance that was
// backed up is gone: what the snapshot's annotations say (image, size,
// data subdirectory), and the storage class of the claim that was
// snapshotted if it is still there (className; nil for the default).
func specFromSnapshot(vs *snapshotv1.VolumeSnapshot, className *string, src v1alpha1.RestoreSource) (v1alpha1.IrisInstanceSpec, error) {
	ann := vs.Annotations
	image := ann[v1alpha1.AnnotationIrisImage]
	if image == "" {
		return v1alpha1.IrisInstanceSpec{}, fmt.Errorf("VolumeSnapshot %s has no annotation %s, so the image it needs is unknown: "+
			"write the IrisInstance yourself, with spec.restoreFrom.volumeSnapshotName: %s", vs.Name, v1alpha1.AnnotationIrisImage, vs.Name)
	}
	var size resource.Quantity
	switch s := ann[v1alpha1.AnnotationStorageSize]; {
	case s != "":
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return v1alpha1.IrisInstanceSpec{}, fmt.Errorf("VolumeSnapshot %s: annotation %s=%q is not a size: %w", vs.Name, v1alpha1.AnnotationStorageSize, s, err)
		}
		size = q
	case vs.Status != nil && vs.Status.RestoreSize != nil:
		size = vs.Status.RestoreSize.DeepCopy()
	default:
		return v1alpha1.IrisInstanceSpec{}, fmt.Errorf("VolumeSnapshot %s has neither the annotation %s nor a restore size: "+
			"write the IrisInstance yourself, with spec.restoreFrom.volumeSnapshotName: %s", vs.Name, v1alpha1.AnnotationStorageSize, vs.Name)
	}
	spec := v1alpha1.IrisInstanceSpec{
		Image: image,
		Storage: v1alpha1.StorageSpec{
			ClassName:        className,
			Size:             size,
			DataSubdirectory: ann[v1alpha1.AnnotationDataSubdirectory],
		},
		RestoreFrom: &src,
	}
	return spec, nil
}

// rebuiltNote says what a spec rebuilt from a snapshot lacks.
func rebuiltNote(source, name string, spec *v1alpha1.IrisInstanceSpec) string {
	known := "image, storage size and data subdirectory from the VolumeSnapshot's annotations"
	if spec.Storage.ClassName != nil {
		known += fmt.Sprintf(", storage class %s from the claim that was backed up", *spec.Storage.ClassName)
	} else {
		known += ", the cluster's default storage class"
	}
	return fmt.Sprintf("IrisInstance %s no longer exists, so the spec was rebuilt (%s); "+
		"config, passwordSecret, licenseKeySecret, service, resources and scheduling take their defaults: set them with kubectl edit iris %s",
		source, known, name)
}

// progress is what a wait prints of the new instance: its phase and the
// condition that says most about what it waits for.
type progress struct {
	phase  v1alpha1.Phase
	detail string
}

func progressOf(inst *v1alpha1.IrisInstance) progress {
	p := progress{phase: inst.Status.Phase}
	conds := inst.Status.Conditions
	restored := meta.FindStatusCondition(conds, v1alpha1.ConditionRestored)
	degraded := meta.FindStatusCondition(conds, v1alpha1.ConditionDegraded)
	ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	switch {
	case inst.Status.ObservedGeneration == 0 && len(conds) == 0:
		p.detail = "waiting for the irisha operator"
	case degraded != nil && degraded.Status == metav1.ConditionTrue:
		p.detail = describe(degraded)
	case restored == nil:
		p.detail = "waiting for the volume to be created from " + resources.RestoreKey(inst.Spec.RestoreFrom)
	case restored.Status != metav1.ConditionTrue:
		p.detail = describe(restored)
	case ready != nil:
		p.detail = describe(ready)
	default:
		p.detail = describe(restored)
	}
	return p
}

func describe(c *metav1.Condition) string {
	s := c.Type + "=" + string(c.Status) + " " + c.Reason
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

func (p progress) Line(elapsed time.Duration) string {
	phase := string(p.phase)
	if phase == "" {
		phase = "Created"
	}
	return strings.TrimRight(fmt.Sprintf("%7s  %-8s  %s", kube.Elapsed(elapsed), phase, p.detail), " ")
}

// outcome says whether a restored instance of generation gen is done
// (Running, restored and Ready), or failed in a way waiting cannot mend:
// its source failed, or a claim with other data is in the way.
func outcome(inst *v1alpha1.IrisInstance, gen int64) (done bool, err error) {
	st := &inst.Status
	if st.ObservedGeneration < gen {
		return false, nil
	}
	restored := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionRestored)
	if restored != nil && restored.Status == metav1.ConditionFalse {
		switch restored.Reason {
		case instance.ReasonRestoreFailed, instance.ReasonRestoreConflict:
			return false, fmt.Errorf("IrisInstance %s cannot be restored (%s): %s", inst.Name, restored.Reason, restored.Message)
		}
	}
	running := st.Phase == v1alpha1.PhaseRunning &&
		restored != nil && restored.Status == metav1.ConditionTrue &&
		meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady)
	return running, nil
}
