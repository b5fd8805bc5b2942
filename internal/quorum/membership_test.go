package quorum

import (
	"slices"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/agent/lease"
)

func TestMembershipChangesOneWitnessAtATime(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	quiet := QuietPeriod(300*time.Second, 2*time.Second, 10*time.Second)
	var m Membership
	m, changed := m.Next([]string{"w2", "w1", "w3"}, t0, quiet, false)
	if !changed || !slices.Equal(m.Members, []string{"w1", "w2", "w3"}) {
		t.Fatalf("first set: %v (changed %v), want all live witnesses at once: no agent counts on a set yet", m.Members, changed)
	}
	live := []string{"w1", "w3", "w4", "w5"} // w2's node is gone, two new nodes
	if _, changed := m.Next(live, t0.Add(quiet-time.Millisecond), quiet, true); changed {
		t.Fatal("changed within the quiet period")
	}
	if _, changed := m.Next(live, t0.Add(quiet), quiet, false); changed {
		t.Fatal("changed while the current set's judgement holds failovers: an agent may be extending")
	}
	now := t0.Add(quiet)
	var steps [][]string
	for {
		next, changed := m.Next(live, now, quiet, true)
		if !changed {
			break
		}
		if d := symmetricDifference(m.Members, next.Members); d != 1 {
			t.Fatalf("%v -> %v changes %d witnesses", m.Members, next.Members, d)
		}
		if next.Changed != now {
			t.Fatalf("change not stamped")
		}
		m = next
		steps = append(steps, m.Members)
		now = now.Add(quiet)
	}
	want := [][]string{{"w1", "w2", "w3", "w4"}, {"w1", "w2", "w3", "w4", "w5"}, {"w1", "w3", "w4", "w5"}}
	if !slices.EqualFunc(steps, want, slices.Equal[[]string]) {
		t.Fatalf("steps %v, want %v (additions before removals)", steps, want)
	}
}

func symmetricDifference(a, b []string) int {
	n := 0
	for _, x := range a {
		if !slices.Contains(b, x) {
			n++
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			n++
		}
	}
	return n
}

// TestEveryLeaseRidesOut: with the default witness timing, every Lease an
// instance may have (5 s to 300 s, default renew interval and margin) hears
// "cannot" before its deadline, with half a second for the answers.
func TestEveryLeaseRidesOut(t *testing.T) {
	for secs := 5; secs <= 300; secs++ {
		d := time.Duration(secs) * time.Second
		lt := lease.DefaultTiming(d)
		if !DefaultTiming().RidesOut(d-lt.SafetyMargin, lt.RenewInterval, 250*time.Millisecond, 500*time.Millisecond) {
			t.Errorf("a %v Lease does not ride out an outage", d)
		}
	}
	if DefaultTiming().RidesOut(3*time.Second, time.Second, 250*time.Millisecond, 500*time.Millisecond) {
		t.Error("a 3 s deadline with a 1 s renew interval rides out, but the witnesses say \"cannot\" only after 2 s")
	}
}
