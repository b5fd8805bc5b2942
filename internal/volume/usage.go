// Package volume is the data volume's usage as the agent measures it and
// reports it on the fencing Lease, and as the operator reads it there.
package volume

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stats is a volume's size and use in bytes.
type Stats struct {
	CapacityBytes int64 `json:"capacityBytes"`
	UsedBytes     int64 `json:"usedBytes"`
	// MeasuredAt is when they were measured (not in a stats file).
	MeasuredAt time.Time `json:"-"`
}

// Ratio is the part of the volume in use, 0..1.
func (s Stats) Ratio() float64 { return float64(s.UsedBytes) / float64(s.CapacityBytes) }

// Measure reads the usage of the filesystem mounted at path, as df counts
// it (reserved blocks count as used). With statsFile it reads that JSON
// file instead: the simulated cluster's volumes are host directories,
// whose statfs says nothing of the simulated volume.
func Measure(path, statsFile string, now time.Time) (Stats, error) {
	if statsFile != "" {
		b, err := os.ReadFile(statsFile)
		if err != nil {
			return Stats{}, fmt.Errorf("reading the volume stats file: %w", err)
		}
		var st Stats
		if err := json.Unmarshal(b, &st); err != nil {
			return Stats{}, fmt.Errorf("reading the volume stats file %s: %w", statsFile, err)
		}
		st.MeasuredAt = now
		return st, nil
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return Stats{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := int64(fs.Bsize)
	return Stats{CapacityBytes: int64(fs.Blocks) * bs, UsedBytes: int64(fs.Blocks-fs.Bfree) * bs, MeasuredAt: now}, nil
}

// Format is the Lease annotation's value, "<used>/<capacity>/<unix seconds>".
func Format(st Stats) string {
	return fmt.Sprintf("%d/%d/%d", st.UsedBytes, st.CapacityBytes, st.MeasuredAt.Unix())
}

// Parse reads Format's value.
func Parse(s string) (Stats, error) {
	f := strings.Split(s, "/")
	var n [3]int64
	var err error
	for i := 0; i < len(f) && i < 3 && err == nil; i++ {
		n[i], err = strconv.ParseInt(f[i], 10, 64)
	}
	if len(f) != 3 || err != nil || n[0] < 0 || n[1] <= 0 {
		return Stats{}, fmt.Errorf("volume usage %q is not <used bytes>/<capacity bytes>/<unix seconds>", s)
	}
	return Stats{UsedBytes: n[0], CapacityBytes: n[1], MeasuredAt: time.Unix(n[2], 0)}, nil
}
