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

// NoVolumeUsage is the VolumeUsageReader of today: nothing in irisha reports
// volume usage yet, so status shows it as unknown. Volume usage reporting,
// when it lands, replaces it in Options.Usage.
type NoVolumeUsage struct{}

// VolumeUsage reads nothing.
func (NoVolumeUsage) VolumeUsage(context.Context, *v1alpha1.IrisInstance, *corev1.PersistentVolumeClaim) (*VolumeUsage, error) {
	return nil, nil
}
