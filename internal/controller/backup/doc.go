// Package backup is the operator's side of the backup protocol (README.md,
// "Backups, restore and growth"). For each IrisBackup it asks the instance's agent to
// freeze IRIS (phase Freezing), cuts a VolumeSnapshot once the agent reports
// IRIS frozen, asks for the thaw as soon as the snapshot has a creation time
// and a bound content — not when it is ready to use, which for a Longhorn
// "bak" snapshot comes only after an upload of minutes — and completes the
// backup once the snapshot is ready to use.
//
// Every step is persisted in the backup's status before the next begins, so
// an operator killed at any step is replaced by one that finishes the
// backup; the agent's own deadline thaws IRIS if nobody asks in time. The
// decision is the pure function next; the reconciler reads what it needs and
// carries the decision out.
//
// The scheduled-backup controller (schedule.go) creates backups on a cron
// schedule and deletes the old ones it created.
package backup

// Field managers of the backup controllers: the IrisBackup step machine (the
// VolumeSnapshots it creates, backup status) and the schedules.
const (
	FieldManager         = "irisha-backup"
	ScheduleFieldManager = "irisha-schedule"
)
