package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
)

// GoBinary builds a package of this module (e.g. "./cmd/irisha-manager") once
// per test process into dir and returns the binary's path.
func GoBinary(dir, pkg string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildCache[pkg]; ok {
		return p, nil
	}
	root, err := repoRoot(".")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	buildCache[pkg] = out
	return out, nil
}

// FakeIris builds hack/fake-iris and returns a directory holding it as both
// `iris` and `iris-main`, to put first on PATH.
func FakeIris(dir string) (string, error) {
	bin, err := GoBinary(dir, "./hack/fake-iris")
	if err != nil {
		return "", err
	}
	pathDir := filepath.Join(dir, "fake-iris-path")
	if err := os.MkdirAll(pathDir, 0o755); err != nil {
		return "", err
	}
	for _, name := range []string{"iris", "iris-main"} {
		link := filepath.Join(pathDir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(bin, link); err != nil {
			return "", fmt.Errorf("linking %s: %w", name, err)
		}
	}
	return pathDir, nil
}
