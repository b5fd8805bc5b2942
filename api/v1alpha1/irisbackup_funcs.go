package v1alpha1

// DefaultMaxFrozenSeconds mirrors the +kubebuilder:default marker of
// IrisBackupSpec.MaxFrozenSeconds, for a backup that never went through the
// API server's defaulting (internal/apivalidation's tests tie the two).
const DefaultMaxFrozenSeconds = 10
