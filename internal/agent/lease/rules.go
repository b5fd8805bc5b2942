package lease

import (
	"slices"
	"time"
)

// Record is what the Lease says, as the agent observed it.
type Record struct {
	Holder   string
	Duration time.Duration
	// Fenced are the identities the operator fenced: their agents must never
	// hold the Lease again (their pod was force-deleted; a container that
	// restarts before the kubelet learns it must not start IRIS).
	Fenced []string
	// RenewTime as written by the holder, on the holder's clock; only used
	// to notice that the holder renewed, never compared with our clock.
	RenewTime time.Time
}

// Observation is a Record plus when this agent first saw it unchanged, on
// its own monotonic clock.
type Observation struct {
	Record
	Since time.Time
}

// Observe returns the observation after reading rec at now: the same
// observation if nothing changed, a fresh one if the holder renewed or changed.
func Observe(prev *Observation, rec Record, now time.Time) Observation {
	if prev != nil && prev.Holder == rec.Holder && prev.RenewTime.Equal(rec.RenewTime) && prev.Duration == rec.Duration {
		prev.Fenced = rec.Fenced
		return *prev
	}
	return Observation{Record: rec, Since: now}
}

// CanAcquire says whether identity may take the Lease at now. Another
// holder's Lease counts as expired only when this agent has seen it unchanged
// for a whole leaseDuration: that needs no agreement between clocks, only
// that they run at about the same rate.
func CanAcquire(obs Observation, identity string, now time.Time) bool {
	if slices.Contains(obs.Fenced, identity) {
		return false
	}
	if obs.Holder == "" || obs.Holder == identity {
		return true
	}
	return !now.Before(obs.Since.Add(obs.Duration))
}

// WaitLeft is how long identity still has to wait before CanAcquire can hold.
func WaitLeft(obs Observation, identity string, now time.Time) time.Duration {
	if CanAcquire(obs, identity, now) {
		return 0
	}
	return obs.Since.Add(obs.Duration).Sub(now)
}

// Timing of the holder's side.
type Timing struct {
	Duration      time.Duration
	RenewInterval time.Duration
	SafetyMargin  time.Duration
}

// DefaultTiming derives the renew interval and the safety margin from the
// lease duration: five renewals per duration, and a margin of a fifth of it
// (at least a second) for the time between the fence decision and IRIS
// being dead.
func DefaultTiming(duration time.Duration) Timing {
	margin := max(duration/5, time.Second)
	return Timing{Duration: duration, RenewInterval: duration / 5, SafetyMargin: margin}
}

// Validate rejects timings that cannot keep W1: the agent must be able to
// try several renewals before its own deadline.
func (t Timing) Validate() error {
	switch {
	case t.Duration <= 0 || t.RenewInterval <= 0 || t.SafetyMargin <= 0:
		return errTiming("durations must be positive")
	case t.SafetyMargin >= t.Duration:
		return errTiming("the safety margin must be shorter than the lease duration")
	case 2*t.RenewInterval > t.Duration-t.SafetyMargin:
		return errTiming("the renew interval must fit at least twice into leaseDuration - safetyMargin")
	}
	return nil
}

type errTiming string

func (e errTiming) Error() string { return "lease timing: " + string(e) }

// FenceDeadline is when a holder whose last successful renewal was sent at
// lastSent must consider itself fenced.
func (t Timing) FenceDeadline(lastSent time.Time) time.Time {
	return lastSent.Add(t.Duration - t.SafetyMargin)
}
