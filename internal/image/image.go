package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User the image runs as: numeric, so the kubelet can enforce
// runAsNonRoot without a passwd file (there is none on an empty base), and
// the one distroless calls "nonroot".
const User = "65532:65532"

// Standard OCI annotation keys, used as image labels and index annotations.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelTitle    = "org.opencontainers.image.title"
	LabelCreated  = "org.opencontainers.image.created"
	LabelLicenses = "org.opencontainers.image.licenses"
	LabelDesc     = "org.opencontainers.image.description"
)

// Spec says what to build.
type Spec struct {
	// Title of the image, e.g. irisha-manager.
	Title string
	// Description for registries' pages.
	Description string
	// BinaryPath is where the image keeps the binary, an absolute path; it
	// is also the entrypoint.
	BinaryPath string
	// Version and Revision (the commit) of the build.
	Version  string
	Revision string
	// Source is the repository's URL.
	Source string
	// Licenses is an SPDX expression; empty leaves the label out.
	Licenses string
	// Created stamps the configs and the layer's files. A fixed time (the
	// commit's) makes two builds of one commit the same image, digest for
	// digest.
	Created time.Time
	// Binaries, one per platform, in the order the index lists them.
	Binaries []Binary
}

// Binary is the executable built for one platform.
type Binary struct {
	Platform v1.Platform
	Content  []byte
}

// Index builds the multi-platform image: one image per binary, in order.
func Index(s Spec) (v1.ImageIndex, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, b := range s.Binaries {
		img, err := platformImage(s, b)
		if err != nil {
			return nil, fmt.Errorf("building the %s image: %w", b.Platform, err)
		}
		p := b.Platform
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	// Registries show an index's annotations (GHCR its description), not
	// the labels of the images inside it.
	annotated, ok := mutate.Annotations(idx, s.labels()).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("annotating the index: not an index any more")
	}
	return annotated, nil
}

func (s Spec) validate() error {
	switch {
	case !strings.HasPrefix(s.BinaryPath, "/") || strings.HasSuffix(s.BinaryPath, "/"):
		return fmt.Errorf("binary path %q: want an absolute file path", s.BinaryPath)
	case s.Version == "":
		return errors.New("no version")
	case len(s.Binaries) == 0:
		return errors.New("no binaries")
	}
	seen := map[string]bool{}
	for _, b := range s.Binaries {
		p := b.Platform.String()
		if b.Platform.OS == "" || b.Platform.Architecture == "" {
			return fmt.Errorf("binary for platform %q: want os and architecture", p)
		}
		if seen[p] {
			return fmt.Errorf("two binaries for %s", p)
		}
		seen[p] = true
		if len(b.Content) == 0 {
			return fmt.Errorf("the %s binary is empty", p)
		}
	}
	return nil
}

// labels are the OCI labels of every image, and the index's annotations.
func (s Spec) labels() map[string]string {
	l := map[string]string{
		LabelTitle:   s.Title,
		LabelVersion: s.Version,
		LabelCreated: s.Created.UTC().Format(time.RFC3339),
	}
	for k, v := range map[string]string{LabelSource: s.Source, LabelRevision: s.Revision, LabelLicenses: s.Licenses, LabelDesc: s.Description} {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

// platformImage is the image of one platform: the binary as its only layer
// on an empty base, so there is no shell, no libc and no package to patch.
func platformImage(s Spec, b Binary) (v1.Image, error) {
	layerTar, err := binaryLayer(s.BinaryPath, b.Content, s.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	created := v1.Time{Time: s.Created.UTC()}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   created,
		CreatedBy: "COPY " + strings.TrimPrefix(s.BinaryPath, "/") + " " + s.BinaryPath + " # irisha hack/image",
	}})
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = b.Platform.OS, b.Platform.Architecture, b.Platform.Variant
	cf.Created = created
	cf.Config = v1.Config{
		Entrypoint: []string{s.BinaryPath},
		User:       User,
		WorkingDir: "/",
		Labels:     s.labels(),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing the config: %w", err)
	}
	return img, nil
}

// binaryLayer is an uncompressed layer tar holding only the binary.
func binaryLayer(path string, content []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(path, "/"),
		Size:     int64(len(content)),
		// Owned by root and not writable by the user the image runs as: a
		// compromised process cannot replace the binary that the agent's
		// init container copies into every IRIS pod.
		Mode:    0o755,
		Uid:     0,
		Gid:     0,
		ModTime: mtime.UTC(),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("writing the layer's header: %w", err)
	}
	if _, err := tw.Write(content); err != nil {
		return nil, fmt.Errorf("writing the binary into the layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer: %w", err)
	}
	return buf.Bytes(), nil
}
