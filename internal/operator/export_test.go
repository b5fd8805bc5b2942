package operator

import (
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// NewManagerWithoutControllers is newManager, for tests that register
// controllers of their own: NewManager's register their metrics with
// controller-runtime's registry, which takes them once per process. The
// controllers may have the names of those another test of the process
// registered already.
func NewManagerWithoutControllers(cfg *rest.Config, opts Options) (manager.Manager, cache.Cache, error) {
	return newManager(cfg, opts, func(o *ctrl.Options) { o.Controller.SkipNameValidation = ptr.To(true) })
}
