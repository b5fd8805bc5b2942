// Package backup is the agent's side of the backup protocol (README.md,
// "Backups, restore and growth"): it watches its instance's IrisBackups, freezes IRIS
// when one enters Freezing, thaws it when asked (Thawing) and, on its own,
// at the backup's thaw deadline. The deadline is a local timer on the
// monotonic clock, so a frozen IRIS is thawed even when the API server is
// unreachable; the status is recorded once it is reachable again.
//
// The decision of what to do with a backup is the pure function decide;
// the participant owns the one freeze this process may hold, and the
// reconciler is the thin controller-runtime layer that reads backups and
// writes their status.
package backup
