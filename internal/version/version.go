// Package version holds the build's version, set with
// -ldflags "-X github.com/irisha/irisha/internal/version.Version=v0.1.0
// -X github.com/irisha/irisha/internal/version.Revision=<commit>".
package version

import "runtime/debug"

// Version of irisha; "dev" in builds that did not set it.
var Version = "dev"

// Revision is the commit the build was made from, when the build set it.
// Release builds set it with -ldflags: they build with -trimpath and often
// without VCS stamping (-buildvcs=false, or a source tree without .git), so
// the Go toolchain's own vcs.revision may be missing.
var Revision = ""

// ImageRepository is where the irisha image (operator, agent and witness in
// one) is published; `make image` tags its archive with it.
const ImageRepository = "ghcr.io/irisha/irisha-manager"

// String is the version plus the VCS revision when the build recorded one.
func String() string {
	if r := revision(); len(r) >= 12 {
		return Version + " (" + r[:12] + ")"
	}
	return Version
}

func revision() string {
	if Revision != "" {
		return Revision
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}

// DefaultImage is the irisha image of this build: operator and agent.
func DefaultImage() string { return ImageRepository + ":" + Version }
