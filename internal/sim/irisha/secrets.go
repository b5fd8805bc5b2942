package simirisha

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/irisha/irisha/internal/sim"
)

// SecretSyncInterval is how often a projected Secret volume is compared
// with its Secret. The kubelet takes up to a minute or so (its sync period
// plus the Secret cache's TTL); the sim is faster so that tests of what
// follows an update need not wait for it.
const SecretSyncInterval = 500 * time.Millisecond

// secretVolumes projects the Secret volumes of irisha pods onto host
// directories, laid out as the kubelet's atomic writer lays them out: the
// files are symlinks through "..data" to a timestamped directory, and an
// update writes a new directory and swaps the "..data" symlink in one
// rename. That swap is what IRIS's own watch of ISC_CPF_MERGE_FILE may not
// notice, so the sim reproduces it exactly.
type secretVolumes struct {
	base string

	mu sync.Mutex
	// pods are the pods whose volumes are projected and kept in sync.
	pods map[types.UID]map[string]string
}

func newSecretVolumes(base string) *secretVolumes {
	if base == "" {
		return nil
	}
	return &secretVolumes{base: base, pods: map[types.UID]map[string]string{}}
}

// project returns env.Volumes plus the pod's Secret volumes, each projected
// under the base directory, and keeps them in sync until the pod is gone
// or ctx ends. A Secret that cannot be read fails the container's start,
// as the kubelet holds the pod in ContainerCreating until it can mount it.
func (s *secretVolumes) project(ctx context.Context, env sim.ContainerEnv) (map[string]string, error) {
	if s == nil {
		return env.Volumes, nil
	}
	pod := env.Pod
	s.mu.Lock()
	dirs, ok := s.pods[pod.UID]
	s.mu.Unlock()
	if !ok {
		var err error
		if dirs, err = s.start(ctx, env); err != nil {
			return nil, err
		}
	}
	out := maps.Clone(env.Volumes)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, dirs)
	return out, nil
}

// start projects the pod's Secret volumes once and starts their sync.
func (s *secretVolumes) start(ctx context.Context, env sim.ContainerEnv) (map[string]string, error) {
	pod := env.Pod
	// The kubelet mounts Secrets with its own credentials, not the pod's.
	rc, err := clientcmd.BuildConfigFromFlags("", env.NodeKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("pod %s: loading the node's kubeconfig: %w", pod.Name, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("pod %s: creating a client: %w", pod.Name, err)
	}
	dirs := map[string]string{}
	var vols []projected
	for _, v := range pod.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		p := projected{dir: filepath.Join(s.base, string(pod.UID), v.Name), source: v.Secret}
		if err := p.sync(ctx, cs, pod.Namespace); err != nil {
			return nil, fmt.Errorf("pod %s: volume %s: %w", pod.Name, v.Name, err)
		}
		dirs[v.Name] = p.dir
		vols = append(vols, p)
	}
	s.mu.Lock()
	s.pods[pod.UID] = dirs
	s.mu.Unlock()
	if len(vols) > 0 {
		go s.keepInSync(ctx, cs, pod, vols)
	}
	return dirs, nil
}

// keepInSync updates the pod's projected volumes until the pod is gone.
func (s *secretVolumes) keepInSync(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, vols []projected) {
	defer func() {
		s.mu.Lock()
		delete(s.pods, pod.UID)
		s.mu.Unlock()
	}()
	t := time.NewTicker(SecretSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		got, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && got.UID != pod.UID) {
			return
		}
		for _, v := range vols {
			// A failed read (the node cut off) keeps the old content, as
			// the kubelet's does.
			_ = v.sync(ctx, cs, pod.Namespace)
		}
	}
}

// projected is one Secret volume's host directory.
type projected struct {
	dir    string
	source *corev1.SecretVolumeSource
}

// sync writes the Secret's current data when it differs from what the
// directory holds.
func (p projected) sync(ctx context.Context, cs kubernetes.Interface, ns string) error {
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, p.source.SecretName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", p.source.SecretName, err)
	}
	files := map[string][]byte{}
	if len(p.source.Items) == 0 {
		maps.Copy(files, sec.Data)
	}
	for _, it := range p.source.Items {
		if b, ok := sec.Data[it.Key]; ok {
			files[it.Path] = b
		}
	}
	if p.holds(files) || ctx.Err() != nil {
		return nil
	}
	return writeAtomic(p.dir, files)
}

// holds reports whether the directory shows exactly files.
func (p projected) holds(files map[string][]byte) bool {
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(p.dir, name))
		if err != nil || !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}

// writeAtomic is the kubelet's atomic writer (pkg/volume/util/
// atomic_writer.go): files go into a new "..<timestamp>" directory, a
// "..data_tmp" symlink to it is renamed over "..data", and each file is a
// symlink "name -> ..data/name"; the old directory is removed last.
func writeAtomic(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	ts := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.000000000")
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", ts, err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(dir, ts, name), files[name], 0o444); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(ts, tmp); err != nil {
		return fmt.Errorf("linking ..data_tmp: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return fmt.Errorf("swapping ..data: %w", err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			return fmt.Errorf("linking %s: %w", name, err)
		}
	}
	if old != "" && old != ts {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}
