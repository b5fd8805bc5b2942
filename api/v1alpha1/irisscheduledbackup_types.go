package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IrisScheduledBackupSpec creates IrisBackups of one instance on a schedule
// and deletes the old ones it created.
type IrisScheduledBackupSpec struct {
	// Schedule in six-field cron format with seconds, as CloudNativePG
	// uses: "seconds minutes hours day-of-month month day-of-week", e.g.
	// "0 0 2 * * *" for 02:00 every day; descriptors like "@daily" and
	// "@every 6h" are accepted too. Times are UTC.
	// +kubebuilder:validation:MinLength=1
	Schedule string `json:"schedule"`

	// Immediate takes a first backup as soon as the schedule is created.
	// +optional
	Immediate bool `json:"immediate,omitempty"`

	// Suspend stops new backups; retention still runs.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Template is the spec of every IrisBackup this schedule creates.
	Template IrisBackupSpec `json:"template"`

	// Retention of the backups this schedule created. It never deletes a
	// backup another schedule or a user created, nor the newest Completed one.
	// +optional
	Retention *RetentionPolicy `json:"retention,omitempty"`
}

// RetentionPolicy bounds how many backups a schedule keeps and for how long.
// +kubebuilder:validation:XValidation:rule="has(self.keep) || has(self.maxAge)",message="set keep, maxAge or both"
type RetentionPolicy struct {
	// Keep is how many Completed backups to keep, newest first (failed ones
	// are kept as many again, to be read).
	// +kubebuilder:validation:Minimum=1
	// +optional
	Keep *int32 `json:"keep,omitempty"`

	// MaxAge deletes backups older than this, e.g. "168h" (7 days).
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// IrisScheduledBackupStatus is the observed state of an IrisScheduledBackup.
type IrisScheduledBackupStatus struct {
	// ObservedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (the schedule is valid and running).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastScheduleTime is the scheduled time of the last backup created.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// NextScheduleTime is when the next backup is due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// LastBackupName is the last IrisBackup created.
	// +optional
	LastBackupName string `json:"lastBackupName,omitempty"`

	// LastCompletedBackupName is the newest Completed IrisBackup of this schedule.
	// +optional
	LastCompletedBackupName string `json:"lastCompletedBackupName,omitempty"`
}

// Condition types of an IrisScheduledBackup.
const (
	// ScheduleConditionReady is True while the schedule is valid and not
	// suspended.
	ScheduleConditionReady = "Ready"
)

// IrisScheduledBackup takes IrisBackups of an instance on a cron schedule
// and keeps a bounded number of them.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=irissbk,categories=irisha
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 48",message="an IrisScheduledBackup's name and a 15-character time make its backups' names, which are label values: at most 48 characters"
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.template.instanceName`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Next",type=date,JSONPath=`.status.nextScheduleTime`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IrisScheduledBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IrisScheduledBackupSpec   `json:"spec,omitempty"`
	Status IrisScheduledBackupStatus `json:"status,omitempty"`
}

// IrisScheduledBackupList is a list of IrisScheduledBackups.
//
// +kubebuilder:object:root=true
type IrisScheduledBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IrisScheduledBackup `json:"items"`
}
