package reference

import (
	"bytes"
	"strings"
	"testing"
)

func TestWithStorageClass(t *testing.T) {
	out, err := WithStorageClass("local-disk")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "storageClassName: local-disk") || strings.Contains(string(out), "storageClassName: longhorn") {
		t.Fatal("class not replaced")
	}
	if len(out) != len(YAML())+len("local-disk")-len("longhorn") {
		t.Fatal("more than the class changed")
	}
	same, _ := WithStorageClass(StorageClass)
	if !bytes.Equal(same, YAML()) {
		t.Fatal("longhorn must give the reference unchanged")
	}
}

func TestSnapshotYAML(t *testing.T) {
	s := string(SnapshotYAML())
	for _, want := range []string{"kind: VolumeSnapshot", "name: " + Snapshot, "persistentVolumeClaimName: " + PVC, "volumeSnapshotClassName: " + StorageClass} {
		if !strings.Contains(s, want) {
			t.Errorf("the snapshot YAML lacks %q", want)
		}
	}
}
