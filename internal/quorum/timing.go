package quorum

import (
	"errors"
	"fmt"
	"time"
)

// Timing of the witness protocol. It is one for the whole cluster (every
// witness serves every instance), so it is derived from the shortest Lease
// an instance may have.
type Timing struct {
	// Grace: a witness answers "cannot" only after it has neither succeeded
	// in reaching the API server nor sent a write of its record for this
	// long. Safety rests on Freshness < Grace.
	Grace time.Duration
	// Period: how often a witness writes its record (or, cut off, probes the
	// API server), and how often the operator reads the records.
	Period time.Duration
	// Freshness: the operator counts a record fresh only if it echoes a
	// revision newer than that of a read the operator sent at most this long
	// before it decides.
	Freshness time.Duration
	// Drift bounds how far clock rates differ: any party's monotonic clock
	// measures a real interval d as between d*(1-Drift) and d*(1+Drift).
	Drift float64
}

// MinLeaseDuration is the shortest fencing Lease an IrisInstance may have
// (the CRD's minimum for spec.failover.leaseDurationSeconds).
const MinLeaseDuration = 5 * time.Second

// DefaultTiming fits the shortest Lease: with 5 s (deadline 3.5 s after the
// last renewal sent, renewals every half second: lease.DefaultTiming) an
// agent must hear "cannot"
// within 3 s of the outage, and witnesses need Grace plus a Period to say it.
// Drift 1 % is far above what NTP-disciplined (or even free-running) clocks
// do, and costs a few milliseconds per second waited.
func DefaultTiming() Timing {
	return Timing{Grace: 2 * time.Second, Period: 500 * time.Millisecond, Freshness: 1500 * time.Millisecond, Drift: 0.01}
}

// Validate rejects timings that break the safety argument, or under which a
// fresh record could never be seen.
func (t Timing) Validate() error {
	switch {
	case t.Grace <= 0 || t.Period <= 0 || t.Freshness <= 0:
		return errors.New("witness timing: durations must be positive")
	case t.Drift < 0 || t.Drift >= 0.1:
		return fmt.Errorf("witness timing: drift %v must be in [0, 0.1)", t.Drift)
	case float64(t.Freshness)*(1+t.Drift) >= float64(t.Grace)*(1-t.Drift):
		return fmt.Errorf("witness timing: freshness %v must be shorter than grace %v, drift included: a witness could answer \"cannot\" before the operator's decision", t.Freshness, t.Grace)
	case 2*t.Period >= t.Freshness:
		return fmt.Errorf("witness timing: freshness %v must exceed two periods (%v): a record written after the operator's read is seen only at its next read", t.Freshness, t.Period)
	}
	return nil
}

// Stretch is the most a real interval measured as d on one clock can
// measure on another.
func (t Timing) Stretch(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + t.Drift) / (1 - t.Drift))
}

// Shrink is the least a real interval measured as d on one clock can
// measure on another.
func (t Timing) Shrink(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 - t.Drift) / (1 + t.Drift))
}

// RidesOut reports whether an agent whose fence deadline comes deadlineAfter
// a renewal sent every renewInterval hears "cannot" from the witnesses
// before that deadline when the API server goes away for everyone: its last
// renewal went out at most a renew interval before the outage, the
// witnesses say "cannot" at most Grace after it (their last success came
// no later), and the agent asks again askPause after a round without a
// majority, the answers taking roundTrip. Liveness only: an instance that
// does not fit still fences safely, it just does not survive an outage.
func (t Timing) RidesOut(deadlineAfter, renewInterval, askPause, roundTrip time.Duration) bool {
	return renewInterval+t.Stretch(t.Grace)+askPause+roundTrip < deadlineAfter
}
