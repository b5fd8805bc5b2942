package agent

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/volume"
)

// DefaultVolumeMeasureInterval: usage changes slowly and the operator
// grows a volume well before it fills; the measure rides on the next
// renewal.
const DefaultVolumeMeasureInterval = 30 * time.Second

// volumeUsage measures the data volume and hands the result to the Lease's
// renewals as an annotation.
type volumeUsage struct {
	path, statsFile string
	every           time.Duration
	log             logr.Logger
	last            atomic.Pointer[string]
}

func (v *volumeUsage) update() {
	st, err := volume.Measure(v.path, v.statsFile, time.Now())
	if err != nil {
		v.log.V(1).Info("Cannot measure the data volume", "error", err.Error())
		return
	}
	s := volume.Format(st)
	v.last.Store(&s)
}

func (v *volumeUsage) run(ctx context.Context) {
	wait.UntilWithContext(ctx, func(context.Context) { v.update() }, v.every)
}

// annotations is the Lease's usage annotation, none before a measure.
func (v *volumeUsage) annotations() map[string]string {
	s := v.last.Load()
	if s == nil {
		return nil
	}
	return map[string]string{v1alpha1.AnnotationVolumeUsage: *s}
}
