package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// annDefaultSnapshotClass marks a driver's default VolumeSnapshotClass
// (external-snapshotter's convention).
const annDefaultSnapshotClass = "snapshot.storage.kubernetes.io/is-default-class"

// pickClass chooses the VolumeSnapshotClass of a backup: the one it names,
// or the one default class of the volume's driver. problem says what the
// user must create or set when there is none.
func pickClass(named string, classes []snapshotv1.VolumeSnapshotClass, driver string) (class, problem string) {
	if named != "" {
		for _, c := range classes {
			if c.Name == named {
				return c.Name, ""
			}
		}
		return "", fmt.Sprintf("VolumeSnapshotClass %s does not exist: create it, or leave spec.volumeSnapshotClassName empty to use the default class of driver %s", named, driver)
	}
	var defaults []string
	for _, c := range classes {
		if c.Driver == driver && c.Annotations[annDefaultSnapshotClass] == "true" {
			defaults = append(defaults, c.Name)
		}
	}
	switch len(defaults) {
	case 1:
		return defaults[0], ""
	case 0:
		return "", fmt.Sprintf("No default VolumeSnapshotClass for driver %s: create one with the annotation %s: \"true\" "+
			"(for Longhorn, parameters.type: snap, or bak to upload to the backup target), or set spec.volumeSnapshotClassName", driver, annDefaultSnapshotClass)
	default:
		return "", fmt.Sprintf("Driver %s has %d default VolumeSnapshotClasses (%s): keep one, or set spec.volumeSnapshotClassName", driver, len(defaults), strings.Join(defaults, ", "))
	}
}

// volumeDriver is the CSI driver of a bound claim's volume.
func volumeDriver(pv *corev1.PersistentVolume) string {
	if pv == nil || pv.Spec.CSI == nil {
		return ""
	}
	return pv.Spec.CSI.Driver
}

// snapshotFor builds the VolumeSnapshot of a backup. It carries what a
// restore needs to know without the instance or the backup: which instance
// and image it came from, its size and data directory, the CPF merge it ran
// with, and whether IRIS was frozen.
func snapshotFor(b *v1alpha1.IrisBackup, inst *v1alpha1.IrisInstance, merge []byte) *snapshotv1.VolumeSnapshot {
	consistency := "frozen"
	if !b.Spec.IsOnline() {
		consistency = "crash"
	}
	pvc := b.Status.PVC
	class := b.Status.VolumeSnapshotClassName
	return &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{
			Name:      b.Status.SnapshotName,
			Namespace: b.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelInstance:   inst.Name,
				v1alpha1.LabelBackup:     b.Name,
				resources.LabelManagedBy: resources.ManagedBy,
			},
			Annotations: map[string]string{
				v1alpha1.AnnotationIrisImage:        inst.Spec.Image,
				v1alpha1.AnnotationStorageSize:      inst.Spec.Storage.Size.String(),
				v1alpha1.AnnotationDataSubdirectory: inst.Spec.Storage.DataSubdirectory,
				v1alpha1.AnnotationCPFHash:          cpfHash(merge),
				v1alpha1.AnnotationConsistency:      consistency,
			},
		},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: &pvc},
			VolumeSnapshotClassName: &class,
		},
	}
}

// cpfHash identifies the CPF merge text an instance ran with.
func cpfHash(merge []byte) string {
	if len(merge) == 0 {
		return ""
	}
	sum := sha256.Sum256(merge)
	return hex.EncodeToString(sum[:10])
}
