package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IrisInstanceSpec is the desired state of one highly available IRIS instance:
// one pod at a time, its durable %SYS on one replicated volume.
//
// +kubebuilder:validation:XValidation:rule="has(self.restoreFrom) == has(oldSelf.restoreFrom)",message="restoreFrom is set when the instance is created and cannot be added or removed later"
type IrisInstanceSpec struct {
	// Image is the IRIS container image, e.g.
	// containers.intersystems.com/intersystems/iris-community:2025.1.
	// +kubebuilder:validation:MinLength=1
	Image string `json:"image"`

	// ImagePullPolicy of the IRIS container.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// ImagePullSecrets for registries that need a login (every non-Community image).
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Storage of the durable %SYS volume.
	Storage StorageSpec `json:"storage"`

	// Config is the CPF merge applied to the instance (ISC_CPF_MERGE_FILE).
	// +optional
	Config *ConfigSpec `json:"config,omitempty"`

	// PasswordSecret sets the password of the predefined accounts.
	// +optional
	PasswordSecret *PasswordSecretRef `json:"passwordSecret,omitempty"`

	// LicenseKeySecret names a Secret whose key (default iris.key) is the
	// licence key. Not needed for Community images.
	// +optional
	LicenseKeySecret *LicenseKeySecretRef `json:"licenseKeySecret,omitempty"`

	// Service exposes the instance.
	// +optional
	Service ServiceSpec `json:"service,omitempty"`

	// Resources of the IRIS container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// Scheduling constrains the nodes the instance may run on.
	// +optional
	Scheduling SchedulingSpec `json:"scheduling,omitempty"`

	// ShutdownTimeoutSeconds is IRIS's [Startup] ShutdownTimeout: how long a
	// graceful stop may take before IRIS forces it. The pod's termination grace
	// period is set above it so Kubernetes never SIGKILLs a clean shutdown.
	// +kubebuilder:validation:Minimum=120
	// +kubebuilder:validation:Maximum=100000
	// +kubebuilder:default=300
	// +optional
	ShutdownTimeoutSeconds int32 `json:"shutdownTimeoutSeconds,omitempty"`

	// Failover configures how the instance moves off a failed node.
	// +optional
	Failover FailoverSpec `json:"failover,omitempty"`

	// RestoreFrom creates the instance's volume from a backup: a clone of
	// the instance that was backed up, as it was at the freeze. It applies
	// only when the volume is created, so it is immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="restoreFrom is immutable"
	// +optional
	RestoreFrom *RestoreSource `json:"restoreFrom,omitempty"`
}

// RestoreSource names the backup a new instance's volume is created from.
//
// +kubebuilder:validation:XValidation:rule="has(self.backupName) != has(self.volumeSnapshotName)",message="set exactly one of restoreFrom.backupName and restoreFrom.volumeSnapshotName"
type RestoreSource struct {
	// BackupName is a Completed IrisBackup in the instance's namespace.
	// +kubebuilder:validation:MinLength=1
	// +optional
	BackupName string `json:"backupName,omitempty"`

	// VolumeSnapshotName is a VolumeSnapshot in the instance's namespace,
	// for snapshots kept after their IrisBackup was deleted or taken by
	// other tools.
	// +kubebuilder:validation:MinLength=1
	// +optional
	VolumeSnapshotName string `json:"volumeSnapshotName,omitempty"`
}

// StorageSpec describes the volume that holds durable %SYS.
//
// +kubebuilder:validation:XValidation:rule="has(self.className) == has(oldSelf.className)",message="storage.className is immutable"
type StorageSpec struct {
	// ClassName of the StorageClass; empty uses the cluster default. Use a
	// replicating class (Longhorn, or any CSI driver that replicates across
	// nodes): a node-local volume cannot follow the pod to another node.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage.className is immutable"
	// +optional
	ClassName *string `json:"className,omitempty"`

	// Size of the volume. It may grow (when the StorageClass allows expansion)
	// but never shrink.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="storage.size must be greater than zero"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="storage.size must not shrink"
	Size resource.Quantity `json:"size"`

	// AccessMode of the volume. ReadWriteOnce works with every CSI driver but is
	// per node, not per pod; use ReadWriteOncePod where the driver supports it.
	// +kubebuilder:validation:Enum=ReadWriteOnce;ReadWriteOncePod
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage.accessMode is immutable"
	// +kubebuilder:default=ReadWriteOnce
	// +optional
	AccessMode corev1.PersistentVolumeAccessMode `json:"accessMode,omitempty"`

	// DataSubdirectory of the volume that becomes ISC_DATA_DIRECTORY. It must be
	// a subdirectory: a fresh volume holds lost+found at its root, and IRIS
	// refuses a non-empty directory without mgr/. Changing it would start a new,
	// empty instance, so it is immutable.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$`
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage.dataSubdirectory is immutable"
	// +kubebuilder:default=IRIS
	// +optional
	DataSubdirectory string `json:"dataSubdirectory,omitempty"`

	// DeletionPolicy says what happens to the volume when the IrisInstance is
	// deleted: Retain (default) keeps the PVC and its data, Delete removes it.
	// +kubebuilder:validation:Enum=Retain;Delete
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy PVCDeletionPolicy `json:"deletionPolicy,omitempty"`

	// AutoGrow grows the volume before it fills: the agent reports its
	// usage and the operator raises the claim's request.
	// +optional
	AutoGrow *AutoGrowSpec `json:"autoGrow,omitempty"`
}

// AutoGrowSpec says when and by how much the volume grows on its own.
type AutoGrowSpec struct {
	// ThresholdPercent of the volume in use at which it grows.
	// +kubebuilder:validation:Minimum=50
	// +kubebuilder:validation:Maximum=99
	// +kubebuilder:default=80
	// +optional
	ThresholdPercent int32 `json:"thresholdPercent,omitempty"`

	// IncreasePercent is how much each growth adds, in percent of the
	// current size.
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=20
	// +optional
	IncreasePercent int32 `json:"increasePercent,omitempty"`

	// Limit is the largest size the volume grows to.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="storage.autoGrow.limit must be greater than zero"
	Limit resource.Quantity `json:"limit"`
}

// PVCDeletionPolicy says whether the PVC outlives its IrisInstance.
type PVCDeletionPolicy string

const (
	// PVCRetain keeps the PVC when the IrisInstance is deleted.
	PVCRetain PVCDeletionPolicy = "Retain"
	// PVCDelete deletes the PVC with the IrisInstance.
	PVCDelete PVCDeletionPolicy = "Delete"
)

// ConfigSpec is a CPF merge file, inline or from a ConfigMap.
//
// +kubebuilder:validation:XValidation:rule="has(self.mergeText) != has(self.configMapRef)",message="set exactly one of config.mergeText and config.configMapRef"
type ConfigSpec struct {
	// MergeText is the CPF merge file itself.
	// +optional
	MergeText *string `json:"mergeText,omitempty"`

	// ConfigMapRef names a ConfigMap key (default merge.cpf) holding the merge file.
	// +optional
	ConfigMapRef *ConfigMapKeyRef `json:"configMapRef,omitempty"`
}

// ConfigMapKeyRef names a key of a ConfigMap in the instance's namespace.
type ConfigMapKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:default=merge.cpf
	// +optional
	Key string `json:"key,omitempty"`
}

// LicenseKeySecretRef names the Secret key holding the licence key.
type LicenseKeySecretRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:default=iris.key
	// +optional
	Key string `json:"key,omitempty"`
}

// PasswordSecretRef names a Secret holding either a plain password (key
// "password") or an IRIS PasswordHash "hash,salt[,workfactor,algorithm]"
// (key "passwordHash").
type PasswordSecretRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// ServiceSpec describes the Service in front of the instance.
type ServiceSpec struct {
	// Type of the Service.
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +kubebuilder:default=ClusterIP
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`

	// Annotations added to the Service (load-balancer settings, for example).
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Ports to expose: superserver (1972) and web (52773, the private web
	// server that only Community images still ship). Empty means superserver,
	// plus web on Community images.
	// +listType=set
	// +optional
	Ports []IrisPort `json:"ports,omitempty"`
}

// IrisPort names an IRIS port.
// +kubebuilder:validation:Enum=superserver;web
type IrisPort string

const (
	// PortSuperserver is the superserver port, 1972.
	PortSuperserver IrisPort = "superserver"
	// PortWeb is the private web server port, 52773.
	PortWeb IrisPort = "web"
)

// SchedulingSpec constrains where the instance's pod may run.
type SchedulingSpec struct {
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// PreferredZones are tried first, in order (topology.kubernetes.io/zone).
	// +optional
	PreferredZones []string `json:"preferredZones,omitempty"`
}

// FailoverMode selects how a failed node is handled.
// +kubebuilder:validation:Enum=Lease;NodeShutdown;Off
type FailoverMode string

const (
	// FailoverLease fails over once the instance's fencing Lease has expired.
	FailoverLease FailoverMode = "Lease"
	// FailoverNodeShutdown waits for the node to be confirmed powered off and
	// then applies the node.kubernetes.io/out-of-service taint.
	FailoverNodeShutdown FailoverMode = "NodeShutdown"
	// FailoverOff leaves Kubernetes' default behaviour.
	FailoverOff FailoverMode = "Off"
)

// FailoverSpec configures failover on node loss.
type FailoverSpec struct {
	// +kubebuilder:default=Lease
	// +optional
	Mode FailoverMode `json:"mode,omitempty"`

	// LeaseDurationSeconds of the instance's fencing Lease: the agent stops
	// IRIS when it could not renew for this long (less a safety margin), and
	// the operator fails over only after it expired.
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=300
	// +kubebuilder:default=10
	// +optional
	LeaseDurationSeconds int32 `json:"leaseDurationSeconds,omitempty"`
}

// IrisInstanceStatus is the observed state of an IrisInstance.
type IrisInstanceStatus struct {
	// ObservedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is a one-word summary; read Conditions for the details.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// Conditions: Ready, Progressing, Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Pod currently running IRIS.
	// +optional
	Pod string `json:"pod,omitempty"`

	// Node the pod runs on.
	// +optional
	Node string `json:"node,omitempty"`

	// PVC holding durable %SYS.
	// +optional
	PVC string `json:"pvc,omitempty"`

	// Capacity of the volume as reported by the PVC.
	// +optional
	Capacity *resource.Quantity `json:"capacity,omitempty"`

	// Fencing is the failover controller's current verdict on the instance's
	// pod: Healthy, Suspect, ConfirmedDead or Fenced.
	// +optional
	Fencing FencingVerdict `json:"fencing,omitempty"`

	// LastFailover is the most recent failover the operator performed; while
	// readyAt is empty it is still in progress, and a restarted operator
	// finishes it from here.
	// +optional
	LastFailover *FailoverRecord `json:"lastFailover,omitempty"`

	// Failovers counts the failovers the operator performed.
	// +optional
	Failovers int32 `json:"failovers,omitempty"`

	// Volume is what the operator knows of the volume's use and growth.
	// +optional
	Volume *VolumeStatus `json:"volume,omitempty"`
}

// VolumeStatus is the data volume's usage and any growth in progress.
type VolumeStatus struct {
	// UsedBytes and CapacityBytes as the agent last measured them on the
	// mounted filesystem.
	// +optional
	UsedBytes int64 `json:"usedBytes,omitempty"`
	// +optional
	CapacityBytes int64 `json:"capacityBytes,omitempty"`
	// MeasuredAt is when the agent measured them.
	// +optional
	MeasuredAt *metav1.Time `json:"measuredAt,omitempty"`

	// Resize is the growth in progress, if any.
	// +optional
	Resize *ResizeRecord `json:"resize,omitempty"`

	// LastResizedAt is when the last growth finished: automatic growth
	// trusts only usage measured after it.
	// +optional
	LastResizedAt *metav1.Time `json:"lastResizedAt,omitempty"`
}

// ResizeMode is how a volume grows.
// +kubebuilder:validation:Enum=Online;Offline
type ResizeMode string

// Resize modes.
const (
	// ResizeOnline grows the volume while IRIS runs (Longhorn >= 1.4, most
	// CSI drivers).
	ResizeOnline ResizeMode = "Online"
	// ResizeOffline stops IRIS, waits for the volume to detach, grows it and
	// starts IRIS again: a planned outage, for drivers that need it.
	ResizeOffline ResizeMode = "Offline"
)

// ResizeStep is where an offline resize is.
// +kubebuilder:validation:Enum=Expanding;Stopping;Detaching;Resizing;Starting
type ResizeStep string

// Resize steps. Online: Expanding. Offline: Stopping -> Detaching ->
// Resizing -> Starting.
const (
	ResizeExpanding ResizeStep = "Expanding"
	ResizeStopping  ResizeStep = "Stopping"
	ResizeDetaching ResizeStep = "Detaching"
	ResizeResizing  ResizeStep = "Resizing"
	ResizeStarting  ResizeStep = "Starting"
)

// ResizeRecord is one growth of the volume, resumable from here by a
// restarted operator.
type ResizeRecord struct {
	Mode ResizeMode `json:"mode"`
	Step ResizeStep `json:"step"`
	// From and To are the claim's requests before and after.
	From resource.Quantity `json:"from"`
	To   resource.Quantity `json:"to"`
	// Automatic: autoGrow asked for it.
	// +optional
	Automatic bool `json:"automatic,omitempty"`
	// StartedAt is when the growth began; for Offline, IRIS stops then.
	StartedAt metav1.Time `json:"startedAt"`
}

// FencingVerdict is what the failover controller concluded about the pod
// that runs IRIS.
// +kubebuilder:validation:Enum=Healthy;Suspect;ConfirmedDead;Fenced
type FencingVerdict string

// Fencing verdicts.
const (
	// FencingHealthy: the pod's agent holds a valid Lease, or no pod needs one.
	FencingHealthy FencingVerdict = "Healthy"
	// FencingSuspect: something looks wrong but nothing proves IRIS stopped.
	FencingSuspect FencingVerdict = "Suspect"
	// FencingConfirmedDead: the old IRIS has provably stopped; fencing runs.
	FencingConfirmedDead FencingVerdict = "ConfirmedDead"
	// FencingFenced: the old pod and its volume attachment are gone; the
	// replacement may start.
	FencingFenced FencingVerdict = "Fenced"
)

// FailoverRecord describes one failover.
type FailoverRecord struct {
	// Reason the old pod was declared dead, e.g. LeaseExpired or NodeShutdown.
	Reason string `json:"reason"`
	// Node the old pod ran on.
	Node string `json:"node"`
	// Pod is the old pod.
	Pod string `json:"pod"`
	// PodUID of the old pod, so a restarted operator deletes only that pod.
	// +optional
	PodUID string `json:"podUID,omitempty"`
	// LeaseRenewTime is the renew time the fencing Lease showed when the old
	// pod was declared dead. If its agent renews after that, its node came
	// back before it was fenced and the failover is abandoned.
	// +optional
	LeaseRenewTime *metav1.MicroTime `json:"leaseRenewTime,omitempty"`
	// DetectedAt is when the operator declared the old pod dead. The three
	// steps' times are MicroTime: a failover takes seconds, and metav1.Time
	// would keep whole seconds only.
	DetectedAt metav1.MicroTime `json:"detectedAt"`
	// FencedAt is when the old pod and its volume attachment were gone.
	// +optional
	FencedAt *metav1.MicroTime `json:"fencedAt,omitempty"`
	// ReadyAt is when a replacement pod was Ready.
	// +optional
	ReadyAt *metav1.MicroTime `json:"readyAt,omitempty"`
	// Seconds from DetectedAt to ReadyAt, e.g. "2.4".
	// +optional
	Seconds string `json:"seconds,omitempty"`
	// Abandoned: the old pod's agent renewed its Lease before it was fenced
	// (its node came back), so nothing more was done.
	// +optional
	Abandoned bool `json:"abandoned,omitempty"`
}

// Phase summarises an instance's state.
type Phase string

// Phases of an instance.
const (
	PhasePending  Phase = "Pending"
	PhaseStarting Phase = "Starting"
	PhaseRunning  Phase = "Running"
	PhaseDegraded Phase = "Degraded"
)

// Condition types of an IrisInstance.
const (
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"
	// ConditionFailoverHeld (the failover controller's) is True while a
	// failover that is due waits for the node witnesses: a majority of them
	// does not reach the API server, so the agent may be keeping IRIS
	// running through a control-plane outage.
	ConditionFailoverHeld = "FailoverHeld"
	// ConditionFailingOver (the failover controller's) is True from the
	// moment a pod is declared dead until its replacement is Ready (reason
	// Detected, then Fenced once the old pod and its attachment are gone),
	// so `kubectl wait --for=condition=FailingOver=false` follows a failover;
	// False otherwise, saying how the last one ended.
	ConditionFailingOver = "FailingOver"
	// ConditionResizing is True while the volume grows, until the claim
	// reports the new capacity.
	ConditionResizing = "Resizing"
	// ConditionRestored says whether the volume was created from
	// spec.restoreFrom, or why it could not be.
	ConditionRestored = "Restored"
	// ConditionVolumeGrowth is False when the volume cannot grow as asked:
	// a class without allowVolumeExpansion, or autoGrow at its limit.
	ConditionVolumeGrowth = "VolumeGrowth"
	// ConditionConfigApplied says whether the running IRIS has the current
	// CPF merge text: True once merged; False while a change that needs a
	// restart is rolled (Restarting) or when IRIS refused it (Refused, IRIS
	// running on its old configuration); Unknown until the agent reports.
	ConditionConfigApplied = "ConfigApplied"
)

// IrisInstance is one InterSystems IRIS instance made highly available
// without mirroring: one pod, durable %SYS on a replicated volume, fenced
// failover.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=iris,categories=irisha
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.node`
// +kubebuilder:printcolumn:name="Capacity",type=string,JSONPath=`.status.capacity`
// +kubebuilder:printcolumn:name="Failover",type=string,JSONPath=`.spec.failover.mode`,priority=1
// +kubebuilder:printcolumn:name="Fencing",type=string,JSONPath=`.status.fencing`,priority=1
// +kubebuilder:printcolumn:name="Failovers",type=integer,JSONPath=`.status.failovers`,priority=1
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.image`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IrisInstance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IrisInstanceSpec   `json:"spec,omitempty"`
	Status IrisInstanceStatus `json:"status,omitempty"`
}

// IrisInstanceList is a list of IrisInstances.
//
// +kubebuilder:object:root=true
type IrisInstanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IrisInstance `json:"items"`
}
