package v1alpha1

import "strings"

// Annotations irisha reads or writes on objects it does not own.
const (
	// AnnotationNodeFenced, set to "true" on a Node by the user's fence agent
	// (cloud API, BMC), confirms the node is powered off; the NodeShutdown
	// failover mode waits for it (or for the Node to be deleted).
	AnnotationNodeFenced = "irisha.dev/node-fenced"

	// AnnotationCordoned marks a Node irisha cordoned during a failover, so
	// irisha uncordons it when it is back, and only then.
	AnnotationCordoned = "irisha.dev/cordoned"

	// AnnotationOutOfService marks a Node on which irisha set the
	// node.kubernetes.io/out-of-service taint, so irisha removes it when the
	// node is back, and only then.
	AnnotationOutOfService = "irisha.dev/out-of-service"

	// AnnotationFencedHolders on a fencing Lease lists, comma-separated, the
	// holder identities the operator fenced: their agents must never take
	// the Lease again, even if their pod's container restarts.
	AnnotationFencedHolders = "irisha.dev/fenced-holders"

	// AnnotationVolumeUsage on a fencing Lease is the data volume's usage as
	// its holder's agent last measured it: "<used bytes>/<capacity bytes>/<unix
	// seconds of the measure>".
	AnnotationVolumeUsage = "irisha.dev/volume-usage"

	// AnnotationConfigMerge on a fencing Lease is its holder's agent's
	// account of the CPF merge file it last acted on, JSON
	// {"hash","outcome","message"}: outcome Applied, Restarting (a change
	// needing a restart, which the agent rolls), Refused (IRIS refused it
	// and runs on the old configuration, message its refusal) or Failed
	// (the merge could not be run; retried). The operator reports it in
	// the ConfigApplied condition.
	AnnotationConfigMerge = "irisha.dev/config-merge"

	// AnnotationVolumeExpansion on a StorageClass, set to "offline", says
	// its driver grows a volume only while it is detached: irisha then
	// stops IRIS for the growth (a planned outage) instead of growing it
	// online. Drivers differ, not instances, so it is the class's to say.
	AnnotationVolumeExpansion = "irisha.dev/volume-expansion"
)

// Labels and annotations on the backups and VolumeSnapshots irisha creates:
// enough to find them and to restore a snapshot on its own.
const (
	// LabelInstance names the IrisInstance a backup or snapshot is of.
	LabelInstance = "irisha.dev/instance"
	// LabelBackup names the IrisBackup that created a VolumeSnapshot.
	LabelBackup = "irisha.dev/backup"
	// LabelScheduledBackup names the IrisScheduledBackup that created a backup.
	LabelScheduledBackup = "irisha.dev/scheduled-backup"
	// AnnotationScheduledBackupUID is the UID of the schedule that created a
	// backup: retention deletes a backup only when it matches, so a
	// hand-made backup carrying the label is never deleted.
	AnnotationScheduledBackupUID = "irisha.dev/scheduled-backup-uid"
	// AnnotationScheduledTime is the schedule time a backup was created for.
	AnnotationScheduledTime = "irisha.dev/scheduled-time"
	// AnnotationIrisImage is the IRIS image the snapshotted instance ran.
	AnnotationIrisImage = "irisha.dev/iris-image"
	// AnnotationStorageSize is the instance's requested volume size.
	AnnotationStorageSize = "irisha.dev/storage-size"
	// AnnotationDataSubdirectory is where ISC_DATA_DIRECTORY sits in the volume.
	AnnotationDataSubdirectory = "irisha.dev/data-subdirectory"
	// AnnotationCPFHash is the hash of the CPF merge text the instance ran with.
	AnnotationCPFHash = "irisha.dev/cpf-hash"
	// AnnotationConsistency is "frozen" for a snapshot cut while IRIS was
	// frozen and "crash" for one cut without a freeze.
	AnnotationConsistency = "irisha.dev/consistency"
)

// FencedHolders parses AnnotationFencedHolders from an object's annotations:
// the identities the operator fenced, oldest first; nil when there are none.
func FencedHolders(annotations map[string]string) []string {
	v := annotations[AnnotationFencedHolders]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// FencedHoldersValue is the AnnotationFencedHolders value listing ids.
func FencedHoldersValue(ids []string) string {
	return strings.Join(ids, ",")
}
