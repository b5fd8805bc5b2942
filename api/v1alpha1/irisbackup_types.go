package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IrisBackupSpec asks for one consistent snapshot of an instance's volume.
type IrisBackupSpec struct {
	// InstanceName is the IrisInstance to back up, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="instanceName is immutable"
	InstanceName string `json:"instanceName"`

	// MaxFrozenSeconds bounds how long IRIS's write daemon may stay frozen:
	// at this deadline the agent thaws IRIS on its own, even if it cannot
	// reach the API server, and the backup fails.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=600
	// +kubebuilder:default=10
	// +optional
	MaxFrozenSeconds int32 `json:"maxFrozenSeconds,omitempty"`
}

// BackupPhase is where a backup is in the freeze -> snapshot -> thaw protocol.
// +kubebuilder:validation:Enum=Pending;Freezing;Frozen;Snapshotting;Thawing;Completed;Failed
type BackupPhase string

// Backup phases. The operator moves Pending -> Freezing, Frozen ->
// Snapshotting -> Thawing; the instance's agent moves Freezing -> Frozen,
// Thawing -> Completed, and any frozen phase -> Failed at the deadline.
const (
	BackupPending      BackupPhase = "Pending"
	BackupFreezing     BackupPhase = "Freezing"
	BackupFrozen       BackupPhase = "Frozen"
	BackupSnapshotting BackupPhase = "Snapshotting"
	BackupThawing      BackupPhase = "Thawing"
	BackupCompleted    BackupPhase = "Completed"
	BackupFailed       BackupPhase = "Failed"
)

// ThawCause says who ended a freeze.
// +kubebuilder:validation:Enum=Request;Deadline;Restart
type ThawCause string

// Thaw causes.
const (
	// ThawRequested: the operator asked (phase Thawing).
	ThawRequested ThawCause = "Request"
	// ThawDeadline: the agent's dead-man switch fired at thawDeadline.
	ThawDeadline ThawCause = "Deadline"
	// ThawRestart: IRIS or its agent restarted while the backup was frozen.
	ThawRestart ThawCause = "Restart"
)

// IrisBackupStatus is the observed state of an IrisBackup.
type IrisBackupStatus struct {
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`

	// Pod whose agent froze IRIS.
	// +optional
	Pod string `json:"pod,omitempty"`

	// FrozenAt is when IRIS reported its write daemon frozen.
	// +optional
	FrozenAt *metav1.Time `json:"frozenAt,omitempty"`

	// ThawDeadline is when the agent thaws IRIS on its own.
	// +optional
	ThawDeadline *metav1.Time `json:"thawDeadline,omitempty"`

	// ThawedAt is when IRIS was thawed.
	// +optional
	ThawedAt *metav1.Time `json:"thawedAt,omitempty"`

	// ThawedBy says why it was thawed.
	// +optional
	ThawedBy ThawCause `json:"thawedBy,omitempty"`

	// Message explains the phase, especially Failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// IrisBackup is one consistent snapshot of an IrisInstance's volume:
// IRIS frozen, the volume snapshotted, IRIS thawed.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=irisbk,categories=irisha
// +kubebuilder:selectablefield:JSONPath=`.spec.instanceName`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Thawed-By",type=string,JSONPath=`.status.thawedBy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IrisBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IrisBackupSpec   `json:"spec,omitempty"`
	Status IrisBackupStatus `json:"status,omitempty"`
}

// IrisBackupList is a list of IrisBackups.
//
// +kubebuilder:object:root=true
type IrisBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IrisBackup `json:"items"`
}
