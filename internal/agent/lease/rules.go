package lease

import (
	"fmt"
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
	// ForceTimeout is how long the holder, once fenced, lets `iris force`
	// run before it SIGKILLs every IRIS process (the agent's
	// --force-timeout). The safety margin must cover it and the kill.
	ForceTimeout time.Duration
}

// The parts of the time between the fence deadline and IRIS being dead that
// the safety margin must cover besides ForceTimeout.
const (
	// DefaultForceTimeout is the agent's --force-timeout default.
	DefaultForceTimeout = time.Second
	// KillTime bounds the SIGKILL of every process under the agent after
	// `iris force` gave up: a few scans of /proc and a signal to each of a
	// container's handful of processes take milliseconds; the rest is room
	// for the kernel to tear them down on a loaded node.
	KillTime = 250 * time.Millisecond
	// FireSlack covers the fence timer firing late (scheduling, CPU
	// throttling of the container) and clocks running up to 1 % apart
	// (50 ms over the shortest, 5 s, Lease).
	FireSlack = 250 * time.Millisecond
	// MinSafetyMargin is the least margin that covers the default force
	// timeout, the kill and the slack: 1 s + 0.25 s + 0.25 s = 1.5 s.
	MinSafetyMargin = DefaultForceTimeout + KillTime + FireSlack
)

// DefaultTiming derives the renew interval and the safety margin from the
// lease duration: five renewals per duration, and a margin of a fifth of it,
// at least MinSafetyMargin, for the time between the fence deadline and
// IRIS being dead.
//
// Below 7.5 s the floor applies and eats into the time the agent may go
// without a renewal (3.5 s instead of 4 s for the CRD's minimum, 5 s), so
// such a Lease is renewed twice as often (every tenth): the renewal due,
// its retry and a third attempt still fit (AttemptTimeout 1.17 s > 0.5 s),
// and the witnesses still answer before the deadline in a control-plane
// outage (quorum.Timing.RidesOut: 0.5 s + 2.04 s + 0.75 s < 3.5 s).
func DefaultTiming(duration time.Duration) Timing {
	margin, renew := duration/5, duration/5
	if margin < MinSafetyMargin {
		margin, renew = MinSafetyMargin, duration/10
	}
	return Timing{Duration: duration, RenewInterval: renew, SafetyMargin: margin, ForceTimeout: DefaultForceTimeout}
}

// Validate rejects timings that cannot keep W1, or cannot ride out a blip:
// the agent must be able to try several renewals before its own deadline.
func (t Timing) Validate() error {
	switch {
	case t.Duration <= 0 || t.RenewInterval <= 0 || t.SafetyMargin <= 0:
		return errTiming("durations must be positive")
	case t.ForceTimeout < 0:
		return errTiming("the force timeout must not be negative")
	case t.SafetyMargin >= t.Duration:
		return errTiming("the safety margin must be shorter than the lease duration")
	case t.SafetyMargin < t.StopTime():
		// W1: another agent may take the Lease as early as a whole
		// duration after the last renewal was sent, which is SafetyMargin
		// after the fence deadline. IRIS must be dead by then: iris force
		// for up to ForceTimeout, then the kill, then some slack.
		return errTiming(fmt.Sprintf("the safety margin %v must cover the force timeout %v, the kill (%v) and %v of slack: at least %v",
			t.SafetyMargin, t.ForceTimeout, KillTime, FireSlack, t.StopTime()))
	case t.RenewInterval >= t.AttemptTimeout():
		// A renewal due RenewInterval after the last success that hangs,
		// and its retry that hangs too, must still leave time for a third
		// attempt: otherwise a cut that starts as a renewal goes out and
		// heals during the retry stops IRIS although the API server is
		// back before the deadline.
		return errTiming("the renew interval must be shorter than (leaseDuration - safetyMargin)/3, the timeout of one renewal attempt")
	}
	return nil
}

// StopTime is the most the holder may take, from its fence deadline, to
// have IRIS dead: the force timeout, the kill and the slack.
func (t Timing) StopTime() time.Duration {
	return t.ForceTimeout + KillTime + FireSlack
}

// AttemptTimeout bounds one renewal attempt: a third of the time the agent
// may go without a renewal, so that the renewal due and its retry may both
// hang on dead connections and a third attempt still goes out in time. For
// the default 10 s Lease it is 2.67 s, above the 2 s of extra latency an API
// server under load may add, so slowness alone does not fail attempts.
func (t Timing) AttemptTimeout() time.Duration {
	return (t.Duration - t.SafetyMargin) / 3
}

type errTiming string

func (e errTiming) Error() string { return "lease timing: " + string(e) }

// FenceDeadline is when a holder whose last successful renewal was sent at
// lastSent must consider itself fenced.
func (t Timing) FenceDeadline(lastSent time.Time) time.Time {
	return lastSent.Add(t.Duration - t.SafetyMargin)
}

// MayExtend says whether a positive answer from an Extender, to questions
// sent at asked and received at now, may move the deadline of a holder whose
// deadline counts from base. Past the deadline the answer comes too late,
// however positive: the operator may have failed over by then, and a second
// IRIS may be writing. An answer to questions sent no later than base adds
// nothing, and one to questions sent in the future cannot be.
func (t Timing) MayExtend(base, asked, now time.Time) bool {
	return now.Before(t.FenceDeadline(base)) && asked.After(base) && !asked.After(now)
}
