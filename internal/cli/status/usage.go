package status

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/irisha/irisha/api/v1alpha1"
)

// VolumeUsage is how full the instance's volume is.
type VolumeUsage struct {
	UsedBytes     int64     `json:"usedBytes"`
	CapacityBytes int64     `json:"capacityBytes"`
	ObservedAt    time.Time `json:"observedAt,omitzero"`
	// Source says where the numbers come from, e.g. "agent".
	Source string `json:"source"`
}

// VolumeUsageReader reads how full an instance's volume is; nil, nil when
// it is not known.
type VolumeUsageReader interface {
	VolumeUsage(ctx context.Context, inst *v1alpha1.IrisInstance, pvc *corev1.PersistentVolumeClaim) (*VolumeUsage, error)
}

// StatusVolumeUsage reads the usage the agent measured and the operator
// recorded in status.volume.
type StatusVolumeUsage struct{}

// VolumeUsage reads status.volume.
func (StatusVolumeUsage) VolumeUsage(_ context.Context, inst *v1alpha1.IrisInstance, _ *corev1.PersistentVolumeClaim) (*VolumeUsage, error) {
	v := inst.Status.Volume
	if v == nil || v.CapacityBytes == 0 {
		return nil, nil
	}
	u := &VolumeUsage{UsedBytes: v.UsedBytes, CapacityBytes: v.CapacityBytes, Source: "agent"}
	if v.MeasuredAt != nil {
		u.ObservedAt = v.MeasuredAt.Time
	}
	return u, nil
}
