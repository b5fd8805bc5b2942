package v1alpha1

import (
	"slices"
	"testing"
)

func TestFencedHolders(t *testing.T) {
	if got := FencedHolders(nil); got != nil {
		t.Errorf("no annotations: %v, want nil", got)
	}
	if got := FencedHolders(map[string]string{AnnotationFencedHolders: ""}); got != nil {
		t.Errorf("empty annotation: %v, want nil", got)
	}
	ids := []string{"iris-0_uid-0", "iris-a_uid-a"}
	got := FencedHolders(map[string]string{AnnotationFencedHolders: FencedHoldersValue(ids)})
	if !slices.Equal(got, ids) {
		t.Errorf("round trip: %v, want %v", got, ids)
	}
}
