package kwok

import "testing"

func TestNodeObject(t *testing.T) {
	n := NodeObject("node-1", "zone-b")
	if n.Labels["topology.kubernetes.io/zone"] != "zone-b" || n.Labels["kubernetes.io/hostname"] != "node-1" {
		t.Fatalf("labels %v", n.Labels)
	}
	// Without it the attach/detach controller creates no VolumeAttachment.
	if n.Annotations[AnnotationControllerManagedAttach] != "true" || n.Annotations[AnnotationNode] != "fake" {
		t.Fatalf("annotations %v", n.Annotations)
	}
}
