package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IrisBackupSpec asks for one snapshot of an instance's volume: consistent
// (IRIS frozen while the snapshot is cut) unless online is false.
type IrisBackupSpec struct {
	// InstanceName is the IrisInstance to back up, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="instanceName is immutable"
	InstanceName string `json:"instanceName"`

	// Online freezes IRIS's write daemon while the snapshot is cut, so the
	// snapshot holds a consistent database (default). False takes a
	// crash-consistent snapshot without freezing: what a power cut would
	// leave, recovered by IRIS's journal at the next start.
	// +kubebuilder:default=true
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="online is immutable"
	// +optional
	Online *bool `json:"online,omitempty"`

	// VolumeSnapshotClassName is the class of the snapshot. Empty picks the
	// default class (annotation snapshot.storage.kubernetes.io/is-default-class)
	// of the volume's CSI driver. For Longhorn, set its parameter type:
	// "snap" is ready at once, "bak" (Longhorn's default) only after the
	// upload to the backup target.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="volumeSnapshotClassName is immutable"
	// +optional
	VolumeSnapshotClassName string `json:"volumeSnapshotClassName,omitempty"`

	// MaxFrozenSeconds bounds how long IRIS's write daemon may stay frozen:
	// at this deadline the agent thaws IRIS on its own, even if it cannot
	// reach the API server, and the backup fails.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=600
	// +kubebuilder:default=10
	// +optional
	MaxFrozenSeconds int32 `json:"maxFrozenSeconds,omitempty"`

	// SnapshotDeletionPolicy says what happens to the VolumeSnapshot when
	// this IrisBackup is deleted: Delete (default) deletes it with the
	// backup, Retain keeps it.
	// +kubebuilder:validation:Enum=Delete;Retain
	// +kubebuilder:default=Delete
	// +optional
	SnapshotDeletionPolicy SnapshotDeletionPolicy `json:"snapshotDeletionPolicy,omitempty"`
}

// SnapshotDeletionPolicy says whether a VolumeSnapshot outlives its IrisBackup.
type SnapshotDeletionPolicy string

const (
	// SnapshotDelete deletes the VolumeSnapshot with its IrisBackup.
	SnapshotDelete SnapshotDeletionPolicy = "Delete"
	// SnapshotRetain keeps the VolumeSnapshot when its IrisBackup is deleted.
	SnapshotRetain SnapshotDeletionPolicy = "Retain"
)

// IsOnline says whether the backup freezes IRIS (the default).
func (s *IrisBackupSpec) IsOnline() bool { return s.Online == nil || *s.Online }

// BackupPhase is where a backup is in the freeze -> snapshot -> thaw protocol.
// +kubebuilder:validation:Enum=Pending;Freezing;Frozen;Snapshotting;Thawing;Finalizing;Completed;Failed
type BackupPhase string

// Backup phases. The operator moves Pending -> Freezing, Frozen ->
// Snapshotting -> Thawing (once the snapshot is cut) and Finalizing ->
// Completed (once it is ready to use); the instance's agent moves Freezing
// -> Frozen, Thawing -> Finalizing, and any frozen phase -> Failed at the
// deadline. A backup that is not online goes Pending -> Snapshotting ->
// Finalizing without the agent.
const (
	BackupPending      BackupPhase = "Pending"
	BackupFreezing     BackupPhase = "Freezing"
	BackupFrozen       BackupPhase = "Frozen"
	BackupSnapshotting BackupPhase = "Snapshotting"
	BackupThawing      BackupPhase = "Thawing"
	BackupFinalizing   BackupPhase = "Finalizing"
	BackupCompleted    BackupPhase = "Completed"
	BackupFailed       BackupPhase = "Failed"
)

// Ended says whether the phase is final.
func (p BackupPhase) Ended() bool { return p == BackupCompleted || p == BackupFailed }

// ThawCause says who ended a freeze.
// +kubebuilder:validation:Enum=Request;Deadline;Restart
type ThawCause string

// Thaw causes.
const (
	// ThawRequested: the operator asked (phase Thawing), or the backup
	// failed while IRIS was frozen for it.
	ThawRequested ThawCause = "Request"
	// ThawDeadline: the agent's dead-man switch fired at thawDeadline.
	ThawDeadline ThawCause = "Deadline"
	// ThawRestart: IRIS or its agent restarted while the backup was frozen.
	ThawRestart ThawCause = "Restart"
)

// Reasons a backup failed (status.reason and the Completed condition's reason).
const (
	BackupReasonInstanceNotFound = "InstanceNotFound"
	BackupReasonInstanceNotReady = "InstanceNotReady"
	BackupReasonVolumeNotBound   = "VolumeNotBound"
	BackupReasonNoSnapshotClass  = "NoSnapshotClass"
	BackupReasonFreezeFailed     = "FreezeFailed"
	BackupReasonFreezeTimeout    = "FreezeTimeout"
	BackupReasonSnapshotFailed   = "SnapshotFailed"
	BackupReasonThawFailed       = "ThawFailed"
	BackupReasonThawDeadline     = "ThawDeadline"
	BackupReasonRestarted        = "Restarted"
)

// Condition types of an IrisBackup.
const (
	// BackupConditionCompleted is Unknown while the backup runs, True once
	// it completed and False once it failed, with the reason.
	BackupConditionCompleted = "Completed"
)

// IrisBackupStatus is the observed state of an IrisBackup.
type IrisBackupStatus struct {
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`

	// Reason is a one-word cause of a failure, e.g. ThawDeadline.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message explains the phase, especially Failed.
	// +optional
	Message string `json:"message,omitempty"`

	// Conditions: Completed.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// SnapshotName is the VolumeSnapshot this backup creates, in the same
	// namespace.
	// +optional
	SnapshotName string `json:"snapshotName,omitempty"`

	// VolumeSnapshotClassName is the class the snapshot was created with.
	// +optional
	VolumeSnapshotClassName string `json:"volumeSnapshotClassName,omitempty"`

	// PVC is the claim that was snapshotted.
	// +optional
	PVC string `json:"pvc,omitempty"`

	// Pod whose agent froze IRIS.
	// +optional
	Pod string `json:"pod,omitempty"`

	// StartedAt is when the operator started the backup.
	// +optional
	StartedAt *metav1.MicroTime `json:"startedAt,omitempty"`

	// FrozenAt is when IRIS reported its write daemon frozen.
	// +optional
	FrozenAt *metav1.MicroTime `json:"frozenAt,omitempty"`

	// ThawDeadline is when the agent thaws IRIS on its own.
	// +optional
	ThawDeadline *metav1.MicroTime `json:"thawDeadline,omitempty"`

	// SnapshotCreatedAt is when the snapshot was cut (its creationTime).
	// +optional
	SnapshotCreatedAt *metav1.MicroTime `json:"snapshotCreatedAt,omitempty"`

	// ThawedAt is when IRIS was thawed.
	// +optional
	ThawedAt *metav1.MicroTime `json:"thawedAt,omitempty"`

	// ThawedBy says why it was thawed.
	// +optional
	ThawedBy ThawCause `json:"thawedBy,omitempty"`

	// FrozenSeconds is how long IRIS's write daemon was frozen, to the
	// millisecond, e.g. "0.412".
	// +optional
	FrozenSeconds string `json:"frozenSeconds,omitempty"`

	// StoppedAt is when the backup completed or failed.
	// +optional
	StoppedAt *metav1.MicroTime `json:"stoppedAt,omitempty"`
}

// IrisBackup is one snapshot of an IrisInstance's volume: IRIS frozen, the
// volume snapshotted, IRIS thawed.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=irisbk,categories=irisha
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="an IrisBackup's name is a label value on its VolumeSnapshot: at most 63 characters"
// +kubebuilder:selectablefield:JSONPath=`.spec.instanceName`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Frozen",type=string,JSONPath=`.status.frozenSeconds`
// +kubebuilder:printcolumn:name="Snapshot",type=string,JSONPath=`.status.snapshotName`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`,priority=1
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
