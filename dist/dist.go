// Package dist embeds the generated install manifest, dist/install.yaml
// (make dist: kustomize build config/default), so that a binary installs
// exactly the manifests of its own version, offline.
package dist

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

//go:embed install.yaml
var files embed.FS

// InstallFile is the manifest's name in this directory.
const InstallFile = "install.yaml"

// Namespace is where the manifest installs the operator and the node
// witnesses.
const Namespace = "irisha-system"

// Install returns dist/install.yaml: the CRDs, the operator's Deployment,
// ServiceAccount and RBAC, its metrics Service and the node witnesses, in
// namespace irisha-system, one YAML document per object, Namespace and
// CRDs first.
func Install() ([]byte, error) {
	b, err := files.ReadFile(InstallFile)
	if err != nil {
		return nil, fmt.Errorf("reading the embedded %s: %w", InstallFile, err)
	}
	return b, nil
}

// Objects returns the objects of Install, in its order (the order to
// apply them in).
func Objects() ([]*unstructured.Unstructured, error) {
	b, err := Install()
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// Decode splits a multi-document YAML stream into objects, skipping
// documents that hold only comments.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading document %d: %w", len(out)+1, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("decoding document %d: %w", len(out)+1, err)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d has no kind or apiVersion", len(out)+1)
		}
		out = append(out, u)
	}
}
