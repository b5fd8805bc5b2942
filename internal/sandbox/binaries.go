package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/irisha/irisha/internal/testbin"
)

// installScript builds the control-plane binaries, cached by version.
const installScript = "hack/testbin/install.sh"

// progressEvery is how often a long build says it is still going.
const progressEvery = 15 * time.Second

// errNoCheckout explains what the sandbox needs when it runs outside a
// clone of the repository.
var errNoCheckout = errors.New(`irisha sandbox runs the real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kwok), built from source once, and
builds irisha-manager and the fake IRIS with go build: it runs from a clone
of the irisha repository, with Go installed:

  git clone https://github.com/irisha/irisha && cd irisha
  go run ./cmd/irisha sandbox

or, with the control-plane binaries already built elsewhere, set ` + testbin.EnvDir + ` to
their directory and run it from the clone`)

// repoRoot is the checkout holding the working directory, or errNoCheckout.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, installScript)); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoCheckout
		}
		dir = parent
	}
}

// ensureControlPlane runs the install script (a second each once built;
// minutes the first time), showing what it builds and, while a build runs,
// that it is still going. ctx ending kills the build's whole process group.
func ensureControlPlane(ctx context.Context, root string, out io.Writer) error {
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("go is not on PATH: the control-plane binaries are built with it (install Go 1.26): %w", err)
	}
	started := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, installScript))
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", installScript, err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	done := make(chan error, 1)
	var tail []string
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	building := ""
	for lines != nil {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			tail = append(tail, l)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			if s, found := strings.CutPrefix(l, "testbin: "); found {
				building = s
				fmt.Fprintf(out, "  %s\n", s)
			}
		case <-tick.C:
			if building != "" {
				fmt.Fprintf(out, "  ... still building (%s so far; a first build takes about 15 minutes on two cores, later runs reuse it)\n",
					time.Since(started).Round(time.Second))
			}
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			return ctx.Err()
		}
	}
	go func() { done <- cmd.Wait() }()
	if err := <-done; err != nil {
		return fmt.Errorf("building the control-plane binaries (%s): %w\n%s", installScript, err, strings.Join(tail, "\n"))
	}
	if building != "" {
		fmt.Fprintf(out, "  built in %s (cached in bin/testbin for next time)\n", time.Since(started).Round(time.Second))
	}
	return nil
}
