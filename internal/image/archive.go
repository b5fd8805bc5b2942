package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations on index.json's one entry that name the image. Each consumer
// reads another: podman and skopeo the OCI one, containerd (and so kind,
// nerdctl, docker with its containerd image store) its own, which it
// prefers. Both hold the full reference: podman turns a bare tag such as
// "v0.1.0" into localhost/v0.1.0.
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerdRef = "io.containerd.image.name"
)

// DockerManifestEntry is one image of docker's manifest.json, the file the
// classic docker image store (graphdriver) needs to load an archive: it does
// not read index.json.
type DockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteArchive writes idx, named ref, to w as one tar: an OCI image layout
// (oci-layout, index.json with one entry, the index, and blobs/sha256/…)
// that also carries docker's manifest.json pointing into the same blobs —
// the shape `docker save` has written since docker 25. One file then serves
// `docker load` (either image store), `podman load`, `kind load
// image-archive` and, unpacked into a directory, `crane push`.
//
// Entries are written in a fixed order with mtime stamped, so one index
// always gives the same bytes.
func WriteArchive(w io.Writer, idx v1.ImageIndex, ref name.Tag, stamped time.Time) error {
	a := &archive{tw: tar.NewWriter(w), mtime: stamped.UTC(), written: map[v1.Hash]bool{}}
	if err := a.write(idx, ref); err != nil {
		return err
	}
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("closing the archive: %w", err)
	}
	return nil
}

type archive struct {
	tw      *tar.Writer
	mtime   time.Time
	written map[v1.Hash]bool
}

func (a *archive) write(idx v1.ImageIndex, ref name.Tag) error {
	if err := a.dir("blobs/"); err != nil {
		return err
	}
	if err := a.dir("blobs/sha256/"); err != nil {
		return err
	}
	if err := a.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	var docker []DockerManifestEntry
	for _, d := range im.Manifests {
		e, err := a.image(idx, d, ref)
		if err != nil {
			return fmt.Errorf("writing the %s image: %w", d.Platform, err)
		}
		docker = append(docker, e)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("hashing the index: %w", err)
	}
	if err := a.blob(digest, bytes.NewReader(raw), int64(len(raw))); err != nil {
		return err
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType:   types.OCIImageIndex,
			Digest:      digest,
			Size:        int64(len(raw)),
			Annotations: map[string]string{annotationRefName: ref.String(), annotationContainerdRef: ref.String()},
		}},
	}
	if err := a.json("index.json", index); err != nil {
		return err
	}
	// The classic store loads every entry and leaves the tag on the last
	// one, unless `docker load --platform` (docker 28 and later) picks one:
	// reversed, the tag lands on the index's first platform, linux/amd64,
	// where most such daemons run.
	slices.Reverse(docker)
	return a.json("manifest.json", docker)
}

// image writes the blobs of one platform's image and returns its
// manifest.json entry.
func (a *archive) image(idx v1.ImageIndex, d v1.Descriptor, ref name.Tag) (DockerManifestEntry, error) {
	img, err := idx.Image(d.Digest)
	if err != nil {
		return DockerManifestEntry{}, fmt.Errorf("opening it: %w", err)
	}
	e := DockerManifestEntry{RepoTags: []string{ref.String()}}
	layers, err := img.Layers()
	if err != nil {
		return e, fmt.Errorf("listing its layers: %w", err)
	}
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return e, fmt.Errorf("hashing a layer: %w", err)
		}
		size, err := l.Size()
		if err != nil {
			return e, fmt.Errorf("sizing layer %s: %w", digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return e, fmt.Errorf("compressing layer %s: %w", digest, err)
		}
		err = a.blob(digest, rc, size)
		rc.Close()
		if err != nil {
			return e, err
		}
		e.Layers = append(e.Layers, blobPath(digest))
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return e, fmt.Errorf("reading its config: %w", err)
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return e, fmt.Errorf("hashing its config: %w", err)
	}
	if err := a.blob(cfgDigest, bytes.NewReader(cfg), int64(len(cfg))); err != nil {
		return e, err
	}
	e.Config = blobPath(cfgDigest)
	raw, err := img.RawManifest()
	if err != nil {
		return e, fmt.Errorf("reading its manifest: %w", err)
	}
	if err := a.blob(d.Digest, bytes.NewReader(raw), int64(len(raw))); err != nil {
		return e, err
	}
	return e, nil
}

func blobPath(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

// blob writes content once per digest: the platforms' images may share one.
func (a *archive) blob(h v1.Hash, r io.Reader, size int64) error {
	if a.written[h] {
		return nil
	}
	a.written[h] = true
	if err := a.tw.WriteHeader(a.header(blobPath(h), tar.TypeReg, size)); err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	if n, err := io.Copy(a.tw, r); err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	} else if n != size {
		return fmt.Errorf("blob %s: wrote %d bytes, want %d", h, n, size)
	}
	return nil
}

func (a *archive) json(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	return a.file(name, b)
}

func (a *archive) file(name string, content []byte) error {
	if err := a.tw.WriteHeader(a.header(name, tar.TypeReg, int64(len(content)))); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if _, err := a.tw.Write(content); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func (a *archive) dir(name string) error {
	if err := a.tw.WriteHeader(a.header(name, tar.TypeDir, 0)); err != nil {
		return fmt.Errorf("writing directory %s: %w", name, err)
	}
	return nil
}

func (a *archive) header(name string, typ byte, size int64) *tar.Header {
	mode := int64(0o644)
	if typ == tar.TypeDir {
		mode = 0o755
	}
	return &tar.Header{Typeflag: typ, Name: name, Size: size, Mode: mode, ModTime: a.mtime}
}
