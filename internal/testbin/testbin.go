// Package testbin locates the control-plane binaries that hack/testbin/install.sh
// builds (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok), for
// the integration tests, the simulated cluster and the sandbox.
package testbin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvDir overrides where the binaries are looked for.
const EnvDir = "IRISHA_TESTBIN"

// Binary names found in the directory returned by Dir.
const (
	Etcd                  = "etcd"
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	Kwok                  = "kwok"
	Kubectl               = "kubectl"
	// KwokStages is a directory holding kwok's own Stage definitions.
	KwokStages = "kwok-stages"
)

// Dir returns the directory holding the binaries: $IRISHA_TESTBIN if set,
// otherwise bin/testbin/current in the repository that contains the working
// directory. It fails with a message that says how to build them.
func Dir() (string, error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", "testbin", "current")
	}
	if _, err := os.Stat(filepath.Join(dir, KubeAPIServer)); err != nil {
		return "", fmt.Errorf("control-plane binaries not found in %s (run hack/testbin/install.sh or set %s): %w", dir, EnvDir, err)
	}
	return dir, nil
}

// Path returns the path of one binary, e.g. Path(Etcd).
func Path(name string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// repoRoot walks up from the working directory to the directory whose go.mod
// belongs to the product module (hack/testbin has a go.mod of its own).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "testbin", "install.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no hack/testbin/install.sh above the working directory; set " + EnvDir)
		}
		dir = parent
	}
}
