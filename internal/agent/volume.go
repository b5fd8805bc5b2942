package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	"github.com/irisha/irisha/api/v1alpha1"
)

// volumeMeasureInterval: usage changes slowly and the operator grows a
// volume well before it fills; the measure rides on the next renewal.
const volumeMeasureInterval = 30 * time.Second

// VolumeStats is a volume's size and use in bytes.
type VolumeStats struct {
	CapacityBytes int64 `json:"capacityBytes"`
	UsedBytes     int64 `json:"usedBytes"`
}

// volumeUsage measures the data volume and hands the result to the Lease's
// renewals as an annotation.
type volumeUsage struct {
	// path is the data volume's mount point, statfs'ed.
	path string
	// statsFile, when set, is read instead of statfs: the simulated
	// cluster's volumes are host directories, whose statfs says nothing of
	// the simulated volume.
	statsFile string
	log       logr.Logger
	last      atomic.Pointer[string]
}

func (v *volumeUsage) measure() (VolumeStats, error) {
	if v.statsFile != "" {
		b, err := os.ReadFile(v.statsFile)
		if err != nil {
			return VolumeStats{}, fmt.Errorf("reading the volume stats file: %w", err)
		}
		var st VolumeStats
		if err := json.Unmarshal(b, &st); err != nil {
			return VolumeStats{}, fmt.Errorf("reading the volume stats file %s: %w", v.statsFile, err)
		}
		return st, nil
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(v.path, &fs); err != nil {
		return VolumeStats{}, fmt.Errorf("statfs %s: %w", v.path, err)
	}
	bs := int64(fs.Bsize)
	// Used as df counts it: what is not free, reserved blocks included.
	return VolumeStats{CapacityBytes: int64(fs.Blocks) * bs, UsedBytes: int64(fs.Blocks-fs.Bfree) * bs}, nil
}

func (v *volumeUsage) update() {
	st, err := v.measure()
	if err != nil {
		v.log.V(1).Info("Cannot measure the data volume", "error", err.Error())
		return
	}
	s := FormatVolumeUsage(st)
	v.last.Store(&s)
}

func (v *volumeUsage) run(ctx context.Context) {
	v.update()
	t := time.NewTicker(volumeMeasureInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v.update()
		}
	}
}

// annotations is the Lease's usage annotation, none before a measure.
func (v *volumeUsage) annotations() map[string]string {
	s := v.last.Load()
	if s == nil {
		return nil
	}
	return map[string]string{v1alpha1.AnnotationVolumeUsage: *s}
}

// FormatVolumeUsage is the annotation's value, "<used>/<capacity>".
func FormatVolumeUsage(st VolumeStats) string {
	return fmt.Sprintf("%d/%d", st.UsedBytes, st.CapacityBytes)
}

// ParseVolumeUsage reads FormatVolumeUsage's value.
func ParseVolumeUsage(s string) (VolumeStats, error) {
	used, capacity, ok := strings.Cut(s, "/")
	u, err1 := strconv.ParseInt(used, 10, 64)
	c, err2 := strconv.ParseInt(capacity, 10, 64)
	if !ok || err1 != nil || err2 != nil || u < 0 || c <= 0 {
		return VolumeStats{}, fmt.Errorf("volume usage %q is not <used bytes>/<capacity bytes>", s)
	}
	return VolumeStats{UsedBytes: u, CapacityBytes: c}, nil
}
