package backup

import (
	"time"

	"github.com/irisha/irisha/api/v1alpha1"
)

// ownership is what this agent process knows of a backup beyond its status:
// only the process that froze IRIS knows the freeze is still the one the
// backup asked for.
type ownership int

const (
	// notMine: this process never froze IRIS for the backup (or already
	// recorded the end of its freeze).
	notMine ownership = iota
	// frozenByMe: this process froze IRIS for the backup and has not thawed it.
	frozenByMe
	// thawedByMe: this process thawed IRIS for the backup and has not yet
	// recorded it in the status (the API server was unreachable, or the
	// write conflicted).
	thawedByMe
)

// local is the participant's view of one backup.
type local struct {
	own ownership
	// deadline is when the dead-man switch fires (frozenByMe only).
	deadline time.Time
	// busy: this process holds a freeze for another backup of the instance.
	busy bool
}

// action is what the reconciler does for a backup.
type action int

const (
	// actNone: nothing to do now; the operator or the deadline timer moves next.
	actNone action = iota
	// actFreeze: freeze IRIS, then record Frozen with the deadline.
	actFreeze
	// actWaitTurn: another backup holds the freeze; try again later.
	actWaitTurn
	// actRecordFrozen: IRIS is frozen but the status does not say so yet.
	actRecordFrozen
	// actThawRequest: the operator asked for the thaw (Thawing).
	actThawRequest
	// actThawDeadline: the deadline passed and the timer has not thawed yet.
	actThawDeadline
	// actThawRestart: a frozen backup this process did not freeze: IRIS or
	// the agent restarted in between, so the freeze it asked for is gone.
	actThawRestart
	// actThawQuietly: the backup ended (or went somewhere it should not)
	// while IRIS is still frozen for it: thaw, but leave the phase alone.
	actThawQuietly
	// actRecordThaw: record a thaw this process already did.
	actRecordThaw
	// actForget: the backup ended; drop this process's record of it.
	actForget
)

func (a action) String() string {
	return [...]string{"None", "Freeze", "WaitTurn", "RecordFrozen", "ThawRequest", "ThawDeadline",
		"ThawRestart", "ThawQuietly", "RecordThaw", "Forget"}[a]
}

// decide says what to do with backup b, given what this process knows of it
// and the time now (the local deadline carries a monotonic reading, so the
// comparison does not depend on wall-clock jumps).
func decide(b *v1alpha1.IrisBackup, l local, now time.Time) action {
	if !b.Spec.IsOnline() && l.own == notMine {
		// A crash-consistent backup never freezes: the operator alone
		// drives it.
		return actNone
	}
	switch b.Status.Phase {
	case v1alpha1.BackupFreezing:
		return decideFreezing(l, now)
	case v1alpha1.BackupFrozen, v1alpha1.BackupSnapshotting:
		return decideFrozen(l, now)
	case v1alpha1.BackupThawing:
		switch l.own {
		case frozenByMe:
			return actThawRequest
		case thawedByMe:
			return actRecordThaw
		}
		// The snapshot was taken, but not under a freeze this process
		// holds: IRIS restarted in between, so it may not be consistent.
		return actThawRestart
	}
	// Pending, Finalizing, Completed, Failed, or no phase yet: not the
	// agent's to move.
	switch l.own {
	case frozenByMe:
		// Never stay frozen for a backup nobody drives any more (the
		// operator failed it, or the phase was reset).
		return actThawQuietly
	case thawedByMe:
		return actForget
	}
	return actNone
}

func decideFreezing(l local, now time.Time) action {
	// Frozen, but recording it failed: the timer still guards the freeze,
	// and a late reconcile must not extend it.
	if a, ours := ownFreeze(l, now, actRecordFrozen); ours {
		return a
	}
	if l.busy {
		// At most one freeze per instance: a second ExternalFreeze cannot
		// be told apart from the first, and a thaw would end both.
		return actWaitTurn
	}
	return actFreeze
}

func decideFrozen(l local, now time.Time) action {
	if a, ours := ownFreeze(l, now, actNone); ours {
		return a
	}
	return actThawRestart
}

// ownFreeze decides for a freeze this process holds or held while the
// backup waits on it: a thaw that happened is recorded; a freeze still held
// is thawed once its deadline has passed, else it gets frozen. The timer
// fires at the deadline; this is only the backstop for a reconcile that
// runs after it and before its thaw, and it never extends a freeze. ours is
// false when this process holds no freeze of the backup.
func ownFreeze(l local, now time.Time, frozen action) (a action, ours bool) {
	switch l.own {
	case frozenByMe:
		if !now.Before(l.deadline) {
			return actThawDeadline, true
		}
		return frozen, true
	case thawedByMe:
		return actRecordThaw, true
	}
	return actNone, false
}
