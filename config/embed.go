// Package config embeds the generated manifests (CRDs, RBAC) so that the
// binaries can install and validate offline.
package config

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed crd/bases/*.yaml
var crds embed.FS

// CRDs returns the generated CustomResourceDefinition manifests, one YAML
// document per CRD, sorted by file name.
func CRDs() ([][]byte, error) {
	names, err := fs.Glob(crds, "crd/bases/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing embedded CRDs: %w", err)
	}
	sort.Strings(names)
	out := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := crds.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("reading embedded %s: %w", n, err)
		}
		out = append(out, b)
	}
	return out, nil
}
