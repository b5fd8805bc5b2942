package quorum

import "time"

// Witness is a witness's memory of its own reachability and answers, on its
// monotonic clock. It is not safe for concurrent use: the witness calls Sent
// and CannotAgo for one write, and Answer, under one lock, so no answer falls
// between the two.
type Witness struct {
	timing Timing
	// lastOK is when the last request that succeeded was sent.
	lastOK time.Time
	// lastWrite is when the last write of the record was sent, answered or
	// not: an unanswered write may still be committed, at any time.
	lastWrite time.Time
	// lastCannot is when it last answered "cannot" (or started).
	lastCannot time.Time
}

// NewWitness starts a witness at now. It answers nothing but "can" for a
// Grace, and its first record says it answered "cannot" just before: a
// restarted witness does not know what its previous run answered.
func NewWitness(t Timing, now time.Time) *Witness {
	return &Witness{timing: t, lastOK: now, lastWrite: now, lastCannot: now}
}

// Sent records that a write of the record is being sent at now.
func (w *Witness) Sent(now time.Time) {
	if now.After(w.lastWrite) {
		w.lastWrite = now
	}
}

// Succeeded records that a request sent at sentAt (a write or a probe) got
// its answer from the API server.
func (w *Witness) Succeeded(sentAt time.Time) {
	if sentAt.After(w.lastOK) {
		w.lastOK = sentAt
	}
}

// CannotAgo is what a record sent at now publishes: how long ago the
// witness last answered "cannot" (or started).
func (w *Witness) CannotAgo(now time.Time) time.Duration {
	return max(now.Sub(w.lastCannot), 0)
}

// Answer is the witness's answer at now to "can you reach the API server?":
// true means "cannot". It says "cannot" only after Grace without a success
// and without a write sent, so that any record of its that the operator can
// count as fresh was sent at least Grace before its next "cannot".
func (w *Witness) Answer(now time.Time) (cannot bool) {
	if now.Sub(w.lastOK) < w.timing.Grace || now.Sub(w.lastWrite) < w.timing.Grace {
		return false
	}
	w.lastCannot = now
	return true
}
