package operator

// NewManagerWithoutControllers is newManager, for tests that register
// controllers of their own: NewManager's register their metrics with
// controller-runtime's registry, which takes them once per process.
var NewManagerWithoutControllers = newManager
