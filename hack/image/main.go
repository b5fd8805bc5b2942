// Command image builds the irisha-manager image without a container engine
// (`make image`): it cross-compiles cmd/irisha-manager for each platform with
// `go build`, builds the OCI image index with internal/image and writes it
// as one archive into dist/. The README's "Get the image into your registry"
// says what to do with the archive.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/irisha/irisha/internal/image"
	"github.com/irisha/irisha/internal/resources"
	"github.com/irisha/irisha/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// options of the build.
type options struct {
	Version    string
	Revision   string
	Repository string
	Source     string
	Licenses   string
	Platforms  []string
	Out        string
	// Epoch is the build's timestamp in Unix seconds (SOURCE_DATE_EPOCH).
	Epoch   int64
	Package string
}

func newCommand() *cobra.Command {
	o := options{}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the irisha-manager image archive without a container engine",
		Long: `Cross-compile cmd/irisha-manager (static, CGO_ENABLED=0, -trimpath, the
version stamped) for each platform, put each binary alone in an image on an
empty base (user 65532:65532, entrypoint /irisha-manager, OCI labels) and
write the multi-platform index as one archive: an OCI image layout that also
carries docker's manifest.json, so docker load, podman load, kind load
image-archive and (unpacked) crane push all read it.`,
		Example: `  # What make image runs
  go run ./hack/image --version v0.1.0 --revision "$(git rev-parse HEAD)"

  # Only the host's platform, to another file
  go run ./hack/image --platforms linux/amd64 --out /tmp/irisha-manager.oci.tar`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, ref, err := build(cmd.Context(), o)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, %s)\n", path, ref, strings.Join(o.Platforms, ", "))
			return err
		},
	}
	epoch, _ := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	f := cmd.Flags()
	f.StringVar(&o.Version, "version", version.Version, "version stamped into the binary (internal/version.Version), the image's tag and its labels")
	f.StringVar(&o.Revision, "revision", "", "commit the build is made from, stamped into the binary and the labels")
	f.StringVar(&o.Repository, "repository", version.ImageRepository, "repository the archive names the image in (the operator's default --agent-image uses it)")
	f.StringVar(&o.Source, "source", "https://github.com/irisha/irisha", "repository URL for the org.opencontainers.image.source label")
	f.StringVar(&o.Licenses, "licenses", "", "SPDX licence expression for the org.opencontainers.image.licenses label; empty leaves it out")
	f.StringSliceVar(&o.Platforms, "platforms", []string{"linux/amd64", "linux/arm64"}, "platforms to build, in the index's order")
	f.StringVar(&o.Out, "out", "", "archive to write (default dist/irisha-manager-<version>.oci.tar)")
	f.Int64Var(&o.Epoch, "source-date-epoch", epoch, "timestamp of the image in Unix seconds, e.g. the commit's, so a rebuild gives the same digest (default $SOURCE_DATE_EPOCH, else 0)")
	f.StringVar(&o.Package, "package", "./cmd/irisha-manager", "Go package of the binary")
	return cmd
}

// build compiles, builds and writes the archive; it returns its path and
// the image's name.
func build(ctx context.Context, o options) (string, name.Tag, error) {
	ref, err := name.NewTag(o.Repository + ":" + o.Version)
	if err != nil {
		return "", ref, fmt.Errorf("naming the image: %w", err)
	}
	out := o.Out
	if out == "" {
		out = filepath.Join("dist", "irisha-manager-"+o.Version+".oci.tar")
	}
	work, err := os.MkdirTemp("", "irisha-image-")
	if err != nil {
		return "", ref, err
	}
	defer os.RemoveAll(work)

	spec := image.Spec{
		Title:       "irisha-manager",
		Description: "irisha: InterSystems IRIS highly available on Kubernetes without mirroring (operator, in-pod agent, node witness)",
		BinaryPath:  resources.AgentImageBinary,
		Version:     o.Version,
		Revision:    o.Revision,
		Source:      o.Source,
		Licenses:    o.Licenses,
		Created:     time.Unix(o.Epoch, 0).UTC(),
	}
	for _, s := range o.Platforms {
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return "", ref, fmt.Errorf("platform %q: %w", s, err)
		}
		bin := filepath.Join(work, "irisha-manager-"+p.OS+"-"+p.Architecture)
		if err := compile(ctx, o, *p, bin); err != nil {
			return "", ref, err
		}
		content, err := os.ReadFile(bin)
		if err != nil {
			return "", ref, fmt.Errorf("reading the %s binary: %w", p, err)
		}
		spec.Binaries = append(spec.Binaries, image.Binary{Platform: *p, Content: content})
	}
	idx, err := image.Index(spec)
	if err != nil {
		return "", ref, err
	}
	if err := writeFile(out, func(f *os.File) error { return image.WriteArchive(f, idx, ref, spec.Created) }); err != nil {
		return "", ref, err
	}
	return out, ref, nil
}

// ldflags stamps the version the way internal/version reads it; -s -w drop
// the symbol table and DWARF, which a production image never uses (a panic
// still prints its stack trace).
func ldflags(versionString, revision string) string {
	pkg := "github.com/irisha/irisha/internal/version"
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Revision=%s", pkg, versionString, pkg, revision)
}

// compile cross-compiles o.Package for p: static (no cgo, so no libc on an
// empty base), with paths trimmed so the binary does not depend on where
// it was built.
func compile(ctx context.Context, o options, p v1.Platform, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags(o.Version, o.Revision), "-o", out, o.Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("compiling %s for %s: %w\n%s", o.Package, p, err, stderr.Bytes())
	}
	return nil
}

// writeFile writes path through a temporary file renamed into place, so an
// interrupted build never leaves a truncated archive under the final name.
func writeFile(path string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".irisha-image-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
