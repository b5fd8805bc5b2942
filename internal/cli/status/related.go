package status

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/resources"
)

// objectRef names an object whose Events belong on the instance's screen.
type objectRef struct{ kind, name string }

// relatedObjects are the instance, its PVC, its pods, and the pod its last
// failover replaced (gone, but its Events tell how it went).
func relatedObjects(inst *v1alpha1.IrisInstance, pods []corev1.Pod) []objectRef {
	refs := []objectRef{{"IrisInstance", inst.Name}, {"PersistentVolumeClaim", resources.PVCName(inst)}}
	seen := map[string]bool{}
	addPod := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			refs = append(refs, objectRef{"Pod", name})
		}
	}
	for _, p := range pods {
		addPod(p.Name)
	}
	if f := inst.Status.LastFailover; f != nil {
		addPod(f.Pod)
	}
	return refs
}
