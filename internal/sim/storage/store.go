package storage

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/irisha/irisha/internal/volume"
)

// Config of the simulated block store.
type Config struct {
	// Dir holds volumes/<pv> and snapshots/<handle>.
	Dir string
	// AttachDelay is how long an attach takes (the engine start); zero
	// keeps measurements to control-plane time.
	AttachDelay time.Duration
	// SnapshotReadyDelay separates creationTime from readyToUse, like a
	// backup that is cut at once but uploaded later.
	SnapshotReadyDelay time.Duration
	// SnapshotCutDelay is how long a snapshot's content waits for its cut
	// (the driver's CreateSnapshot), from when the snapshotter first saw it.
	SnapshotCutDelay time.Duration
	Log              logr.Logger
}

// Store is the simulated block store.
type Store struct {
	cfg     Config
	engines engines

	// faults scripted by tests: cuts held back, or failing with a message.
	mu       sync.Mutex
	holdCuts bool
	cutsFail string
	// seen is when the snapshotter first saw each content not cut yet.
	seen map[types.UID]time.Time
}

// HoldSnapshots keeps new snapshots from being cut until called with false,
// as a busy storage backend does; the snapshots wait, unbound to a cut.
func (s *Store) HoldSnapshots(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdCuts = hold
}

// FailSnapshots makes every snapshot cut from now on fail with message (as
// a CSI driver reports in the content's status.error); "" ends it.
func (s *Store) FailSnapshots(message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutsFail = message
}

func (s *Store) cutFaults() (hold bool, fail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holdCuts, s.cutsFail
}

// cutWait is how much longer the content uid waits for its cut: the cut
// delay from when it was first asked. A content seen for the last time
// (cut, failed or gone) is forgotten with done.
func (s *Store) cutWait(uid types.UID, done bool) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if done {
		delete(s.seen, uid)
		return 0
	}
	if s.cfg.SnapshotCutDelay <= 0 {
		return 0
	}
	first, ok := s.seen[uid]
	if !ok {
		if s.seen == nil {
			s.seen = map[types.UID]time.Time{}
		}
		first = time.Now()
		s.seen[uid] = first
	}
	return s.cfg.SnapshotCutDelay - time.Since(first)
}

// New returns a store; Setup registers its controllers.
func New(cfg Config) *Store { return &Store{cfg: cfg} }

// NewScheme returns a scheme with the types the store and sim use.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, snapshotv1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}

// VolumeDir is the host directory standing for a PV's block device.
func (s *Store) VolumeDir(pvName string) string {
	return filepath.Join(s.cfg.Dir, "volumes", pvName)
}

// StatsFile is the file beside a volume's directory that says its size and
// use (volume.Stats as JSON, what volume.Measure reads): what statfs of the mounted
// volume would say (the agent reads it in the simulated cluster). It is not
// in the volume, so snapshots do not copy it.
func StatsFile(volumeDir string) string { return volumeDir + ".stats" }

// SetVolumeUsed sets how much of a PV's volume is in use.
func (s *Store) SetVolumeUsed(pvName string, used int64) error {
	return s.updateStats(pvName, func(st *volume.Stats) { st.UsedBytes = used })
}

func (s *Store) setCapacity(pvName string, capacity int64) error {
	return s.updateStats(pvName, func(st *volume.Stats) { st.CapacityBytes = capacity })
}

func (s *Store) updateStats(pvName string, change func(*volume.Stats)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	file := StatsFile(s.VolumeDir(pvName))
	var st volume.Stats
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
	}
	change(&st)
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return os.Rename(tmp, file)
}

// SnapshotDir is where a snapshot's copy of its volume lives.
func (s *Store) SnapshotDir(handle string) string {
	return filepath.Join(s.cfg.Dir, "snapshots", handle)
}

// Setup registers the provisioner, attacher, resizer and snapshotter with
// the manager.
func (s *Store) Setup(mgr ctrl.Manager) error {
	for _, setup := range []func(ctrl.Manager) error{s.setupProvisioner, s.setupAttacher, s.setupSnapshotter} {
		if err := setup(mgr); err != nil {
			return err
		}
	}
	return nil
}

// copyDir copies the regular files and directories of src into dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	})
}

func resourceBytes(n int64) resource.Quantity { return *resource.NewQuantity(n, resource.BinarySI) }
