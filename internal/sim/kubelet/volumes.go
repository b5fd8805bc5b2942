package kubelet

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
)

// csiPluginName prefixes the unique volume names the attach/detach
// controller writes into node.status.volumesAttached.
const csiPluginName = "kubernetes.io/csi"

// podVolume is one PVC-backed volume of a pod.
type podVolume struct {
	Name        string // the pod's volume name
	PVName      string
	UniqueName  corev1.UniqueVolumeName
	NeedsAttach bool
}

// UniqueVolumeName is the name the attach/detach controller and the kubelet
// use for a CSI volume: kubernetes.io/csi/<driver>^<volumeHandle>.
func UniqueVolumeName(driver, handle string) corev1.UniqueVolumeName {
	return corev1.UniqueVolumeName(csiPluginName + "/" + driver + "^" + handle)
}

// listers is what volume resolution reads.
type listers struct {
	pvcs       corelisters.PersistentVolumeClaimLister
	pvs        corelisters.PersistentVolumeLister
	csiDrivers storagelisters.CSIDriverLister
}

// resolveVolumes returns the pod's PVC-backed volumes, or a human reason
// why they cannot be resolved yet (PVC unbound, PV missing).
func (l listers) resolveVolumes(pod *corev1.Pod) ([]podVolume, string, error) {
	var out []podVolume
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pvc, err := l.pvcs.PersistentVolumeClaims(pod.Namespace).Get(v.PersistentVolumeClaim.ClaimName)
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("persistentvolumeclaim %q not found", v.PersistentVolumeClaim.ClaimName), nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading PVC %s: %w", v.PersistentVolumeClaim.ClaimName, err)
		}
		if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
			return nil, fmt.Sprintf("persistentvolumeclaim %q is not bound", pvc.Name), nil
		}
		pv, err := l.pvs.Get(pvc.Spec.VolumeName)
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName), nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading PV %s: %w", pvc.Spec.VolumeName, err)
		}
		pvol := podVolume{Name: v.Name, PVName: pv.Name}
		if pv.Spec.CSI != nil {
			pvol.UniqueName = UniqueVolumeName(pv.Spec.CSI.Driver, pv.Spec.CSI.VolumeHandle)
			pvol.NeedsAttach = true
			// Like the kubelet: without a CSIDriver object attach is required.
			if d, err := l.csiDrivers.Get(pv.Spec.CSI.Driver); err == nil && d.Spec.AttachRequired != nil {
				pvol.NeedsAttach = *d.Spec.AttachRequired
			}
		}
		out = append(out, pvol)
	}
	return out, "", nil
}

// unattached lists the volumes that need attaching but are not reported
// in the node's status.volumesAttached yet.
func unattached(vols []podVolume, node *corev1.Node) []string {
	var missing []string
	for _, v := range vols {
		if !v.NeedsAttach {
			continue
		}
		found := node != nil && slices.ContainsFunc(node.Status.VolumesAttached, func(a corev1.AttachedVolume) bool {
			return a.Name == v.UniqueName
		})
		if !found {
			missing = append(missing, v.Name)
		}
	}
	return missing
}
