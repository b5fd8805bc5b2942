package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/irisha/irisha/internal/iris/fakeiris"
	"github.com/irisha/irisha/internal/sim"
	simirisha "github.com/irisha/irisha/internal/sim/irisha"
	"github.com/irisha/irisha/internal/sim/reference"
	"github.com/irisha/irisha/internal/testbin"
)

const referenceNamespace = "bench-reference"

// The reference script's calls, as the article's backup/test.sh makes them
// through `kubectl exec <pod> -- iris session iris -U%SYS "..."`; here the
// fake `iris` runs them with the container's environment, as the agent
// runs its own (there is no exec in the sim).
const (
	freezeCall = "##Class(Backup.General).ExternalFreeze()"
	thawCall   = "##Class(Backup.General).ExternalThaw()"
	// frozenExit is ExternalFreeze's exit code for "frozen" (3: failed).
	frozenExit = 5
)

// referenceSetup is the reference deployment with its IRIS container run
// as the fake IRIS (simirisha.IrisMain), and the script's tools.
type referenceSetup struct {
	bins     simirisha.Binaries
	selector labels.Selector

	mu sync.Mutex
	// env is each reference pod's IRIS container environment, by pod.
	env map[string][]string

	// Set by deploy: the script's environment for `iris`, the live data
	// directory, its path inside the volume, and kubectl's command line.
	irisEnv []string
	dataDir string
	sub     string
	kubectl []string
	home    string
}

func newReferenceSetup(bins simirisha.Binaries) *referenceSetup {
	sel, err := labels.Parse(reference.Selector)
	if err != nil {
		panic(err) // a constant
	}
	return &referenceSetup{bins: bins, selector: sel, env: map[string][]string{}}
}

// runContainer is the sim's runner for containers that are not irisha's:
// the reference pod's IRIS container runs as the fake iris-main; anything
// else stays virtual.
func (s *referenceSetup) runContainer(_ context.Context, env sim.ContainerEnv) (*sim.ContainerProcess, error) {
	if env.Pod.Namespace != referenceNamespace || env.Container != reference.Container || !s.selector.Matches(labels.Set(env.Pod.Labels)) {
		return nil, nil
	}
	cp, err := simirisha.IrisMain(s.bins, env)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.env[env.Pod.Name] = cp.Cmd.Env
	s.mu.Unlock()
	return cp, nil
}

// deploy creates the reference deployment unchanged, waits until its pod
// is Ready and its IRIS running (the liveness probe's `iris qlist iris |
// grep running`), and gets kubectl ready (its discovery cache warm, as on
// an administrator's machine).
func (s *referenceSetup) deploy(ctx context.Context, c *sim.Cluster, cl client.Client) error {
	if err := c.CreateNamespace(ctx, referenceNamespace); err != nil {
		return err
	}
	if err := c.Create(ctx, referenceNamespace, reference.YAML()); err != nil {
		return err
	}
	pods, err := sim.WaitForPods(ctx, c.Clientset(), referenceNamespace, reference.Selector,
		func(p []corev1.Pod) bool { return len(p) == 1 && sim.PodReady(&p[0]) })
	if err != nil {
		return fmt.Errorf("waiting for the reference pod: %w", err)
	}
	s.mu.Lock()
	s.irisEnv = s.env[pods[0].Name]
	s.mu.Unlock()
	if s.irisEnv == nil {
		return fmt.Errorf("pod %s is Ready but its IRIS container was not run as the fake IRIS", pods[0].Name)
	}
	for _, v := range s.irisEnv {
		if d, ok := strings.CutPrefix(v, fakeiris.EnvDataDir+"="); ok {
			s.dataDir = d
		}
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: referenceNamespace, Name: reference.PVC}, pvc); err != nil {
		return err
	}
	if s.sub, err = filepath.Rel(c.VolumeDir(pvc.Spec.VolumeName), s.dataDir); err != nil || strings.HasPrefix(s.sub, "..") {
		return fmt.Errorf("the reference's data directory %s is not on its volume %s (%v)", s.dataDir, pvc.Spec.VolumeName, err)
	}
	for {
		out, _, err := s.iris(ctx, "qlist", "iris")
		if err == nil && strings.Contains(out, "running") {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the reference's IRIS to run (qlist %q, %v): %w", out, err, ctx.Err())
		case <-time.After(pollInterval):
		}
	}

	kubectl, err := testbin.Path(testbin.Kubectl)
	if err != nil {
		return err
	}
	kubeconfig, err := c.ClientKubeconfig("admin")
	if err != nil {
		return err
	}
	s.home = filepath.Join(c.Dir(), "admin-home")
	if err := os.MkdirAll(s.home, 0o700); err != nil {
		return err
	}
	s.kubectl = []string{kubectl, "--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(s.home, "kube-cache"), "-n", referenceNamespace}
	if _, err := s.run(ctx, nil, "get", "volumesnapshots"); err != nil {
		return err
	}
	return nil
}

// backup runs the article's script: freeze; if frozen, kubectl apply the
// VolumeSnapshot; thaw at once, without waiting for the cut. Then it
// watches the snapshot until readyToUse, reads its copy, and deletes it.
func (s *referenceSetup) backup(ctx context.Context, c *sim.Cluster, cl client.WithWatch, n int) runResult {
	res := runResult{Setup: setupReference, Run: n}
	var start, frozenAt time.Time
	frozen := false
	readyAt, _, err := watchUntil(ctx, cl, &snapshotv1.VolumeSnapshotList{}, referenceNamespace, reference.Snapshot,
		func() error {
			start = time.Now()
			out, code, err := s.iris(ctx, "session", "iris", "-U%SYS", freezeCall)
			frozenAt = time.Now()
			frozen = err == nil && code == frozenExit
			var scriptErr error
			if !frozen {
				scriptErr = fmt.Errorf("ExternalFreeze: exit %d, %q (%v)", code, out, err)
			} else if _, err := s.run(ctx, reference.SnapshotYAML(), "apply", "-f", "-"); err != nil {
				scriptErr = err
			}
			// The script thaws whatever happened.
			out, code, err = s.iris(ctx, "session", "iris", "-U%SYS", thawCall)
			thawedAt := time.Now()
			if err != nil || code != 0 {
				return errors.Join(scriptErr, fmt.Errorf("ExternalThaw: exit %d, %q (%v)", code, out, err))
			}
			if frozen {
				res.FrozenSeconds = seconds64(thawedAt.Sub(frozenAt))
			}
			return scriptErr
		},
		func(vs *snapshotv1.VolumeSnapshot) bool {
			return vs.Status != nil && (vs.Status.Error != nil || (vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse))
		})
	res.LeftFrozen = leftFrozen(s.dataDir, &res)
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: referenceNamespace, Name: reference.Snapshot}}
	if err == nil {
		if getErr := cl.Get(ctx, client.ObjectKeyFromObject(vs), vs); getErr == nil && vs.Status != nil && vs.Status.Error != nil && vs.Status.Error.Message != nil {
			err = fmt.Errorf("VolumeSnapshot failed: %s", *vs.Status.Error.Message)
		}
	}
	if err != nil {
		res.Error = err.Error()
	} else {
		res.CompletedSeconds = seconds64(readyAt.Sub(start))
		readCut(ctx, c, cl, referenceNamespace, reference.Snapshot, frozenAt, func(ctx context.Context) (string, error) {
			dir, err := simirisha.SnapshotCopy(ctx, c, referenceNamespace, reference.Snapshot)
			return filepath.Join(dir, s.sub), err
		}, &res)
	}
	// Not part of the script as measured: the article deletes its
	// snapshot at the end (kubectl delete -f); so does the benchmark,
	// waiting until its content and copy are gone too.
	if err := deleteAndWait(ctx, cl, vs, vs); err != nil {
		res.Error = join(res.Error, fmt.Sprintf("cleaning up: %v", err))
	}
	return res
}

// iris runs the fake `iris` with the reference container's environment
// and returns its output and exit code.
func (s *referenceSetup) iris(ctx context.Context, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, s.bins.Iris, args...)
	cmd.Env = s.irisEnv
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return strings.TrimSpace(string(out)), exit.ExitCode(), nil
	}
	return strings.TrimSpace(string(out)), 0, err
}

// run runs kubectl against the cluster, as the administrator, in the
// reference's namespace.
func (s *referenceSetup) run(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.kubectl[0], append(append([]string(nil), s.kubectl[1:]...), args...)...)
	// Nothing of the developer's own kubeconfig or cache leaks in.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.home}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}
