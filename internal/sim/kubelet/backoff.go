package kubelet

import "time"

// Backoff is the kubelet's container restart policy: the first restart
// after a crash is immediate, then 10 s, 20 s, 40 s ... capped at 5 min; a
// container that ran ResetAfter without crashing starts again from the
// beginning (pod-lifecycle docs, "Container restarts").
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	ResetAfter time.Duration
}

// DefaultBackoff is the kubelet's default.
func DefaultBackoff() Backoff {
	return Backoff{Initial: 10 * time.Second, Max: 300 * time.Second, ResetAfter: 10 * time.Minute}
}

// Delay returns how long to wait before restarting a container that has
// just crashed for the crashes-th time in a row (1 = first crash) after
// running for ranFor, and the crash count to remember (reset to 1 when the
// container had run long enough).
func (b Backoff) Delay(crashes int, ranFor time.Duration) (time.Duration, int) {
	if b.ResetAfter > 0 && ranFor >= b.ResetAfter {
		crashes = 1
	}
	if crashes <= 1 {
		return 0, 1
	}
	d := b.Initial
	for i := 2; i < crashes; i++ {
		d *= 2
		if d >= b.Max {
			return b.Max, crashes
		}
	}
	return min(d, b.Max), crashes
}
