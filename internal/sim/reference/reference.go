// Package reference holds the reference deployment that irisha improves on
// (a copy of the repository's shared reference-tldr.yaml: Deployment
// replicas 1 strategy Recreate, a Longhorn RWO PVC, a ConfigMap, a
// LoadBalancer Service), embedded so that tests, the failover benchmark and
// the sandbox apply exactly the same bytes; and the article's VolumeSnapshot
// of its volume, which the backup benchmark applies as its script does.
package reference

import (
	_ "embed"
	"fmt"
	"strings"
)

// Names in the reference deployment.
const (
	Deployment = "iris"
	PVC        = "iris-pvc"
	Container  = "iris"
	// Selector matches the reference Deployment's pods.
	Selector = "app=iris"
	// StorageClass is the class the reference PVC asks for.
	StorageClass = "longhorn"
	// Snapshot is the name of the article's VolumeSnapshot.
	Snapshot = "iris-longhorn-snapshot"
)

//go:embed reference-tldr.yaml
var tldr []byte

//go:embed iris-volume-snapshot.yaml
var snapshot []byte

// SnapshotYAML is the article's VolumeSnapshot (named Snapshot) of the
// reference's claim PVC, class longhorn.
func SnapshotYAML() []byte { return append([]byte(nil), snapshot...) }

// YAML is the reference deployment, unchanged.
func YAML() []byte { return append([]byte(nil), tldr...) }

// WithStorageClass is the reference deployment with only the PVC's
// storageClassName changed (to compare storage setups).
func WithStorageClass(class string) ([]byte, error) {
	const line = "storageClassName: " + StorageClass
	s := string(tldr)
	if strings.Count(s, line) != 1 {
		return nil, fmt.Errorf("reference deployment: want exactly one %q line", line)
	}
	return []byte(strings.Replace(s, line, "storageClassName: "+class, 1)), nil
}
