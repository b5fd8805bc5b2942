// Package lease is the agent's side of the fencing Lease (W1, one IRIS writer
// per volume: docs/failover.md, "The protocol"): the agent acquires the instance's coordination.k8s.io Lease before IRIS starts,
// renews it, and declares itself fenced — so that IRIS is stopped hard — once
// a renewal has not succeeded by leaseDuration - safetyMargin after the last
// successful one was *sent*. Counting from the send, on the monotonic clock,
// keeps the agent's deadline ahead of anyone else's expiry even when a reply
// comes back late or the wall clock jumps. While renewals fail, each attempt
// has its own short timeout and is retried at once on fresh connections, and
// an optional Extender (the witness quorum) may move the deadline forward.
//
// The decisions (may I take the Lease? when am I fenced? may this answer
// extend?) are pure functions in rules.go; lease.go and hold.go only talk to
// the API server.
package lease
