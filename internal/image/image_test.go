package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64   = v1.Platform{OS: "linux", Architecture: "arm64"}
	created = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
)

func testSpec() Spec {
	return Spec{
		Title:       "irisha-manager",
		Description: "irisha operator, agent and witness",
		BinaryPath:  "/irisha-manager",
		Version:     "v0.1.0",
		Revision:    "af2974e0123456789abcdef0123456789abcdef0",
		Source:      "https://github.com/irisha/irisha",
		Created:     created,
		Binaries: []Binary{
			{Platform: amd64, Content: []byte("amd64 binary")},
			{Platform: arm64, Content: []byte("arm64 binary")},
		},
	}
}

func TestIndexHasOneImagePerPlatform(t *testing.T) {
	s := testSpec()
	idx, err := Index(s)
	if err != nil {
		t.Fatal(err)
	}
	// Not validate.Index: in memory, go-containerregistry's layers describe
	// themselves with empty annotations that their manifest leaves out, and
	// validate compares the two. The archive tests validate what is written.
	checkIndex(t, idx, s)
}

// checkIndex checks everything a consumer of the image relies on.
func checkIndex(t *testing.T, idx v1.ImageIndex, s Spec) {
	t.Helper()
	if mt, _ := idx.MediaType(); mt != types.OCIImageIndex {
		t.Errorf("index media type %s", mt)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations[LabelVersion] != s.Version || im.Annotations[LabelSource] != s.Source {
		t.Errorf("index annotations %v", im.Annotations)
	}
	if len(im.Manifests) != len(s.Binaries) {
		t.Fatalf("%d manifests, want %d", len(im.Manifests), len(s.Binaries))
	}
	for i, b := range s.Binaries {
		d := im.Manifests[i]
		if d.Platform == nil || d.Platform.String() != b.Platform.String() {
			t.Errorf("manifest %d is for %v, want %s", i, d.Platform, b.Platform)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
			t.Errorf("manifest media type %s", mt)
		}
		checkImage(t, img, s, b)
	}
}

func checkImage(t *testing.T, img v1.Image, s Spec, b Binary) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != b.Platform.OS || cf.Architecture != b.Platform.Architecture {
		t.Errorf("config for %s/%s, want %s", cf.OS, cf.Architecture, b.Platform)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/irisha-manager"}) || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q", c.User)
	}
	want := map[string]string{
		"org.opencontainers.image.title":       "irisha-manager",
		"org.opencontainers.image.version":     s.Version,
		"org.opencontainers.image.revision":    s.Revision,
		"org.opencontainers.image.source":      s.Source,
		"org.opencontainers.image.created":     "2026-12-01T21:00:00Z",
		"org.opencontainers.image.description": s.Description,
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if _, ok := c.Labels[LabelLicenses]; ok != (s.Licenses != "") {
		t.Errorf("licenses label %q with Licenses %q", c.Labels[LabelLicenses], s.Licenses)
	}
	if !cf.Created.Time.Equal(s.Created) {
		t.Errorf("created %s, want %s", cf.Created.Time, s.Created)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	files := layerFiles(t, layers[0])
	if len(files) != 1 {
		t.Fatalf("layer holds %d entries, want only the binary: %v", len(files), files)
	}
	f := files[0]
	if f.hdr.Name != "irisha-manager" || f.hdr.Typeflag != tar.TypeReg || f.hdr.Mode != 0o755 || f.hdr.Uid != 0 || f.hdr.Gid != 0 {
		t.Errorf("layer entry %s type %c mode %o owner %d:%d, want irisha-manager, a file, 0755, 0:0",
			f.hdr.Name, f.hdr.Typeflag, f.hdr.Mode, f.hdr.Uid, f.hdr.Gid)
	}
	if !f.hdr.ModTime.Equal(s.Created) {
		t.Errorf("binary's mtime %s, want %s", f.hdr.ModTime, s.Created)
	}
	if !bytes.Equal(f.content, b.Content) {
		t.Errorf("binary %q, want %q", f.content, b.Content)
	}
}

type layerFile struct {
	hdr     *tar.Header
	content []byte
}

func layerFiles(t *testing.T, l v1.Layer) []layerFile {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var files []layerFile
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, layerFile{hdr, b})
	}
}

func TestIndexRefusesIncompleteSpecs(t *testing.T) {
	for name, mutate := range map[string]func(*Spec){
		"relative binary path": func(s *Spec) { s.BinaryPath = "irisha-manager" },
		"no version":           func(s *Spec) { s.Version = "" },
		"no binaries":          func(s *Spec) { s.Binaries = nil },
		"a platform twice":     func(s *Spec) { s.Binaries[1].Platform = amd64 },
		"no architecture":      func(s *Spec) { s.Binaries[0].Platform.Architecture = "" },
		"an empty binary":      func(s *Spec) { s.Binaries[1].Content = nil },
	} {
		t.Run(name, func(t *testing.T) {
			s := testSpec()
			mutate(&s)
			if _, err := Index(s); err == nil {
				t.Error("built an image")
			}
		})
	}
}

func TestLicensesLabelOnlyWhenKnown(t *testing.T) {
	s := testSpec()
	s.Licenses = "Apache-2.0"
	idx, err := Index(s)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, idx, s)
}

var ref = name.MustParseReference("ghcr.io/irisha/irisha-manager:v0.1.0").(name.Tag)

func writeArchive(t *testing.T, s Spec) []byte {
	t.Helper()
	idx, err := Index(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteArchive(&buf, idx, ref, s.Created); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The archive read back as an OCI layout, the way podman, skopeo,
// containerd and crane read it.
func TestArchiveIsAnOCILayoutOfTheIndex(t *testing.T) {
	s := testSpec()
	archive := writeArchive(t, s)
	dir := untar(t, archive)

	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// One entry, the multi-platform index: skopeo and podman refuse a
	// layout whose index.json lists several images without a name to
	// choose, and treat a nested index as one multi-platform image.
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json lists %+v, want one image index", tm.Manifests)
	}
	e := tm.Manifests[0]
	for _, k := range []string{"org.opencontainers.image.ref.name", "io.containerd.image.name"} {
		if e.Annotations[k] != ref.String() {
			t.Errorf("index.json annotation %s = %q, want %q", k, e.Annotations[k], ref)
		}
	}
	idx, err := top.ImageIndex(e.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("the index read back does not validate: %v", err)
	}
	checkIndex(t, idx, s)
}

// The archive read back as docker's classic image store reads it: through
// manifest.json alone.
func TestArchiveCarriesDockerManifest(t *testing.T) {
	s := testSpec()
	archive := writeArchive(t, s)
	dir := untar(t, archive)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []DockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("manifest.json has %d entries, want one per platform", len(entries))
	}
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil }
	var platforms []string
	for _, e := range entries {
		if !slices.Equal(e.RepoTags, []string{ref.String()}) {
			t.Errorf("RepoTags %q", e.RepoTags)
		}
		for _, f := range append([]string{e.Config}, e.Layers...) {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("manifest.json points at %s: %v", f, err)
			}
		}
		var cf v1.ConfigFile
		b, err := os.ReadFile(filepath.Join(dir, e.Config))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &cf); err != nil {
			t.Fatal(err)
		}
		platforms = append(platforms, cf.OS+"/"+cf.Architecture)
	}
	// Without --platform the classic store tags the last entry.
	if want := []string{"linux/arm64", "linux/amd64"}; !slices.Equal(platforms, want) {
		t.Errorf("manifest.json lists %v, want %v", platforms, want)
	}
	// go-containerregistry's reader of docker archives finds the first
	// entry with the tag and checks its layers against the config.
	img, err := tarball.Image(opener, &ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("the docker view does not validate: %v", err)
	}
	checkImage(t, img, s, s.Binaries[1])
}

func TestArchiveIsReproducible(t *testing.T) {
	if a, b := writeArchive(t, testSpec()), writeArchive(t, testSpec()); !bytes.Equal(a, b) {
		t.Error("two archives of one spec differ")
	}
}

func untar(t *testing.T, archive []byte) string {
	t.Helper()
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hdr.Name, "..") || filepath.IsAbs(hdr.Name) {
			t.Fatalf("unsafe entry %q", hdr.Name)
		}
		target := filepath.Join(dir, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, b, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("entry %s of type %c", hdr.Name, hdr.Typeflag)
		}
	}
}
