package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestBuiltImageRunsItsBinary builds the archive for this machine's platform
// only (cross-compiling the other one as well would double a cold build),
// reads it back and runs the binary it holds. internal/image's tests check
// the multi-platform archive itself.
func TestBuiltImageRunsItsBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles irisha-manager (a minute on a cold build cache)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary is for Linux")
	}
	const v = "v0.0.0-imagetest"
	o := options{
		Version:    v,
		Revision:   "0123456789abcdef0123456789abcdef01234567",
		Repository: "example.test/irisha-manager",
		Source:     "https://github.com/irisha/irisha",
		Platforms:  []string{"linux/" + runtime.GOARCH},
		Out:        filepath.Join(t.TempDir(), "image.oci.tar"),
		Epoch:      1764622800,
		Package:    "github.com/irisha/irisha/cmd/irisha-manager",
	}
	path, ref, err := build(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if path != o.Out || ref.String() != "example.test/irisha-manager:"+v {
		t.Errorf("wrote %s as %s", path, ref)
	}

	img, err := tarball.ImageFromPath(path, &ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("the image does not validate: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != runtime.GOARCH || cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/irisha-manager"}) {
		t.Errorf("config: %s, user %q, entrypoint %q", cf.Architecture, cf.Config.User, cf.Config.Entrypoint)
	}
	if got := cf.Config.Labels["org.opencontainers.image.version"]; got != v {
		t.Errorf("version label %q", got)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	bin := extractBinary(t, layers[0], "irisha-manager")

	out, err := exec.CommandContext(t.Context(), bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("irisha-manager --version: %v\n%s", err, out)
	}
	// Stamped: the version and the revision's first 12 characters.
	if want := v + " (0123456789ab)"; !strings.Contains(string(out), want) {
		t.Errorf("irisha-manager --version printed %q, want %q in it", out, want)
	}
}

// extractBinary writes the layer's only file, which must be want, into a
// temporary directory and returns its path.
func extractBinary(t *testing.T, l interface {
	Uncompressed() (io.ReadCloser, error)
}, want string) string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != want || hdr.Mode != 0o755 || hdr.Uid != 0 || hdr.Gid != 0 {
		t.Fatalf("layer holds %s mode %o owner %d:%d, want %s 0755 0:0", hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid, want)
	}
	bin := filepath.Join(t.TempDir(), want)
	f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, tr); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if next, err := tr.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("layer holds more than the binary: %v %v", next, err)
	}
	return bin
}
