package lease

import (
	"strings"
	"testing"
	"testing/quick"
	"time"
)

var t0 = time.Unix(1_000_000, 0)

func TestCanAcquire(t *testing.T) {
	other := Record{Holder: "pod-a", Duration: 10 * time.Second, RenewTime: t0}
	for _, tc := range []struct {
		name string
		obs  Observation
		now  time.Time
		want bool
	}{
		{"free", Observation{Record: Record{}, Since: t0}, t0, true},
		{"released", Observation{Record: Record{Holder: "", Duration: time.Second}, Since: t0}, t0, true},
		{"mine", Observation{Record: Record{Holder: "me", Duration: 10 * time.Second}, Since: t0}, t0, true},
		{"held, just seen", Observation{Record: other, Since: t0}, t0, false},
		{"held, seen 9.9s unchanged", Observation{Record: other, Since: t0}, t0.Add(9900 * time.Millisecond), false},
		{"held, seen a whole duration unchanged", Observation{Record: other, Since: t0}, t0.Add(10 * time.Second), true},
		{"released, but this pod was fenced", Observation{Record: Record{Fenced: []string{"pod-x", "me"}}, Since: t0}, t0.Add(time.Hour), false},
		{"once mine, then fenced", Observation{Record: Record{Holder: "me", Fenced: []string{"me"}}, Since: t0}, t0, false},
		{"another pod was fenced", Observation{Record: Record{Fenced: []string{"pod-a"}}, Since: t0}, t0, true},
	} {
		if got := CanAcquire(tc.obs, "me", tc.now); got != tc.want {
			t.Errorf("%s: CanAcquire = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRenewalRestartsTheWait: every renewal the holder makes restarts the
// observer's wait, whatever the holder's clock says.
func TestRenewalRestartsTheWait(t *testing.T) {
	rec := Record{Holder: "pod-a", Duration: 10 * time.Second, RenewTime: t0.Add(-time.Hour)}
	obs := Observe(nil, rec, t0)
	obs = Observe(&obs, rec, t0.Add(8*time.Second))
	if !obs.Since.Equal(t0) {
		t.Fatalf("an unchanged record must keep its first sighting")
	}
	rec.RenewTime = rec.RenewTime.Add(2 * time.Second) // holder renewed; its clock is an hour behind
	obs = Observe(&obs, rec, t0.Add(9*time.Second))
	if CanAcquire(obs, "me", t0.Add(12*time.Second)) {
		t.Errorf("the Lease was taken 3s after the holder renewed")
	}
	if !CanAcquire(obs, "me", t0.Add(19*time.Second)) {
		t.Errorf("the Lease was not free a whole duration after the last renewal was seen")
	}
}

// TestHolderFencesBeforeAnyObserverAcquires is the W1 property: whatever the
// delays, a holder's fence deadline comes before the earliest moment another
// agent may acquire. The server stores a renewal sent at s at some time
// >= s, an observer sees it at some time >= that, and waits a whole duration.
func TestHolderFencesBeforeAnyObserverAcquires(t *testing.T) {
	prop := func(durS uint8, sendDelayMs, seeDelayMs uint16) bool {
		d := time.Duration(durS%60+5) * time.Second
		timing := DefaultTiming(d)
		sent := t0
		stored := sent.Add(time.Duration(sendDelayMs) * time.Millisecond)
		seen := stored.Add(time.Duration(seeDelayMs) * time.Millisecond)
		obs := Observation{Record: Record{Holder: "pod-a", Duration: d, RenewTime: sent}, Since: seen}
		fence := timing.FenceDeadline(sent)
		// At the fence deadline nobody else may hold the Lease, and the
		// margin left covers killing IRIS.
		return !CanAcquire(obs, "pod-b", fence) && obs.Since.Add(obs.Duration).Sub(fence) >= timing.SafetyMargin
	}
	if err := quick.Check(prop, nil); err != nil {
		t.Error(err)
	}
}

func TestTiming(t *testing.T) {
	if err := DefaultTiming(10 * time.Second).Validate(); err != nil {
		t.Errorf("default timing for 10s: %v", err)
	}
	d := DefaultTiming(10 * time.Second)
	if d.RenewInterval != 2*time.Second || d.SafetyMargin != 2*time.Second {
		t.Errorf("default timing = %+v", d)
	}
	for _, bad := range []Timing{
		{Duration: 10 * time.Second, RenewInterval: 5 * time.Second, SafetyMargin: 2 * time.Second},
		{Duration: 10 * time.Second, RenewInterval: time.Second, SafetyMargin: 10 * time.Second},
		{Duration: 0, RenewInterval: time.Second, SafetyMargin: time.Second},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

// TestAttemptTimeoutMustFit: the renewal due a renew interval after the last
// success, and its retry, may each hang for a whole attempt timeout; a third
// attempt must still go out before the deadline.
func TestAttemptTimeoutMustFit(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		10 * time.Second: 2666666666 * time.Nanosecond, // above the 2 s an API server under load may add
		5 * time.Second:  1166666666 * time.Nanosecond, // (5 s - 1.5 s) / 3
	} {
		if got := DefaultTiming(d).AttemptTimeout(); got != want {
			t.Errorf("AttemptTimeout for %s = %s, want %s", d, got, want)
		}
	}
	// Every lease duration an IrisInstance may have, and the agent process
	// tests' timing.
	for s := 5; s <= 300; s++ {
		if err := DefaultTiming(time.Duration(s) * time.Second).Validate(); err != nil {
			t.Errorf("default timing for %ds: %v", s, err)
		}
	}
	if err := (Timing{Duration: 4 * time.Second, RenewInterval: 500 * time.Millisecond, SafetyMargin: MinSafetyMargin, ForceTimeout: DefaultForceTimeout}).Validate(); err != nil {
		t.Errorf("the agent tests' timing: %v", err)
	}
	// 3 s + 2 × 2.67 s = 8.33 s > 8 s: the renew interval still fits twice
	// into the 8 s, the attempts do not.
	tooSlow := Timing{Duration: 10 * time.Second, RenewInterval: 3 * time.Second, SafetyMargin: 2 * time.Second}
	if err := tooSlow.Validate(); err == nil || !strings.Contains(err.Error(), "attempt") {
		t.Errorf("%+v: Validate = %v, want it rejected for its attempt timeout", tooSlow, err)
	}
	if err := (Timing{Duration: 10 * time.Second, RenewInterval: 2666666666, SafetyMargin: 2 * time.Second}).Validate(); err == nil {
		t.Errorf("a renew interval equal to the attempt timeout was accepted")
	}
}

func TestMayExtend(t *testing.T) {
	timing := DefaultTiming(10 * time.Second) // deadline = base + 8 s
	base := t0
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name       string
		asked, now time.Time
		want       bool
	}{
		{"asked after the last renewal, answered in time", at(3 * time.Second), at(3500 * time.Millisecond), true},
		{"answered just before the deadline", at(7 * time.Second), at(8*time.Second - 1), true},
		{"answered at the deadline", at(7 * time.Second), at(8 * time.Second), false},
		{"answered after the deadline", at(7 * time.Second), at(9 * time.Second), false},
		{"asked when the last renewal was sent", base, at(time.Second), false},
		{"asked before the last renewal", at(-time.Second), at(time.Second), false},
		{"asked in the future", at(5 * time.Second), at(4 * time.Second), false},
	} {
		if got := timing.MayExtend(base, tc.asked, tc.now); got != tc.want {
			t.Errorf("%s: MayExtend = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidateStopTime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		timing Timing
		ok     bool
	}{
		{"the CRD's minimum Lease, default timing", DefaultTiming(5 * time.Second), true},
		{"the default Lease, default timing", DefaultTiming(10 * time.Second), true},
		{"margin equal to the force timeout: killed when another may acquire",
			Timing{Duration: 5 * time.Second, RenewInterval: 500 * time.Millisecond, SafetyMargin: time.Second, ForceTimeout: time.Second}, false},
		{"margin equal to force timeout plus kill: no slack",
			Timing{Duration: 5 * time.Second, RenewInterval: 500 * time.Millisecond, SafetyMargin: time.Second + KillTime, ForceTimeout: time.Second}, false},
		{"margin exactly covering force, kill and slack",
			Timing{Duration: 5 * time.Second, RenewInterval: 500 * time.Millisecond, SafetyMargin: MinSafetyMargin, ForceTimeout: DefaultForceTimeout}, true},
		{"the old default for 5 s (margin 1 s) with the default force timeout",
			Timing{Duration: 5 * time.Second, RenewInterval: time.Second, SafetyMargin: time.Second, ForceTimeout: DefaultForceTimeout}, false},
		{"a longer force timeout the default 10 s margin does not cover",
			func() Timing { d := DefaultTiming(10 * time.Second); d.ForceTimeout = 2 * time.Second; return d }(), false},
		{"no force (kill at once) still needs the kill and slack",
			Timing{Duration: 5 * time.Second, RenewInterval: 500 * time.Millisecond, SafetyMargin: KillTime, ForceTimeout: 0}, false},
		{"negative force timeout",
			Timing{Duration: 10 * time.Second, RenewInterval: time.Second, SafetyMargin: 2 * time.Second, ForceTimeout: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.timing.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("%+v: Validate = %v, want ok=%v", tc.timing, err, tc.ok)
			}
		})
	}
}

// TestAcceptedTimingsKillIRISBeforeAnotherAcquires is W1 for the holder's
// stop: for every timing Validate accepts, a fenced holder whose iris force
// runs its whole timeout and whose kill takes KillTime has IRIS dead before
// the earliest moment another agent may acquire (a whole duration after the
// last renewal was sent). It fails if Validate accepts a margin that only
// equals the force timeout.
func TestAcceptedTimingsKillIRISBeforeAnotherAcquires(t *testing.T) {
	prop := func(durMs, renewMs, marginMs, forceMs uint16) bool {
		timing := Timing{
			Duration:      time.Duration(durMs) * time.Millisecond,
			RenewInterval: time.Duration(renewMs) * time.Millisecond,
			SafetyMargin:  time.Duration(marginMs) * time.Millisecond,
			ForceTimeout:  time.Duration(forceMs) * time.Millisecond,
		}
		if timing.Validate() != nil {
			return true
		}
		sent := t0
		dead := timing.FenceDeadline(sent).Add(timing.ForceTimeout + KillTime)
		obs := Observation{Record: Record{Holder: "pod-a", Duration: timing.Duration, RenewTime: sent}, Since: sent}
		return dead.Before(obs.Since.Add(obs.Duration)) && !CanAcquire(obs, "pod-b", dead)
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
	// The known-unsafe variant, checked on its own so the test fails
	// whatever quick draws.
	unsafe := Timing{Duration: 5 * time.Second, RenewInterval: 500 * time.Millisecond, SafetyMargin: time.Second, ForceTimeout: time.Second}
	if unsafe.Validate() == nil {
		t.Errorf("%+v accepted: IRIS may still run when another agent acquires", unsafe)
	}
}

// TestDefaultTimingCoversTheDefaultForceTimeout: every Lease the CRD allows
// validates with the agent's default force timeout.
func TestDefaultTimingCoversTheDefaultForceTimeout(t *testing.T) {
	for s := 5; s <= 300; s++ {
		d := DefaultTiming(time.Duration(s) * time.Second)
		if d.ForceTimeout != DefaultForceTimeout || d.SafetyMargin < d.StopTime() {
			t.Errorf("default timing for %ds: %+v does not cover the force timeout", s, d)
		}
	}
	if got := DefaultTiming(5 * time.Second); got.SafetyMargin != 1500*time.Millisecond || got.RenewInterval != 500*time.Millisecond {
		t.Errorf("default timing for 5s = %+v, want margin 1.5s and renewals every 0.5s", got)
	}
}
