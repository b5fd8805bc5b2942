// Package version holds the build's version, set with
// -ldflags "-X github.com/irisha/irisha/internal/version.Version=v0.1.0".
package version

import "runtime/debug"

// Version of irisha; "dev" in builds that did not set it.
var Version = "dev"

// String is the version plus the VCS revision when the build recorded one.
func String() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return Version + " (" + s.Value[:12] + ")"
			}
		}
	}
	return Version
}

// DefaultImage is the irisha image of this build: operator and agent.
func DefaultImage() string { return "ghcr.io/irisha/irisha:" + Version }
