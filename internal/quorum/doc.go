// Package quorum holds the rules of the witness quorum, which lets IRIS keep
// running through a control-plane outage without weakening W1 (at most one
// IRIS writes an instance's volume). It is pure: no client, no clock, no
// network; the witness, the agent and the operator feed it what they saw, on
// their own monotonic clocks, and do what it says.
//
// An agent that cannot renew its fencing Lease cannot tell "I am cut off"
// from "everyone is cut off"; the other nodes can. Three parties:
//
//   - A witness runs on every node. It writes its own record (a Lease) every
//     Period while it reaches the API server, and answers an agent's question
//     "can you reach the API server?" with "cannot" only when it has neither
//     succeeded in a request nor sent a record write for Grace (Witness).
//     Each record publishes how long ago it last answered "cannot", and
//     echoes the resourceVersion of the witness's previous write.
//   - The agent, when renewals fail, asks every witness it learned while the
//     API server was up. On "cannot" from a strict majority of them (Majority)
//     it may push its fence deadline forward, as a renewal sent when it asked
//     would have; never once the deadline has passed (lease.Timing.MayExtend).
//   - The operator may fail an instance over only when, besides the Lease
//     rule it always had, a strict majority of witnesses wrote records that
//     are provably fresh and the "cannot" answers they published are older
//     than the Lease duration plus the skew margin (Judge).
//
// Why no extension can be in force when the operator acts. Fresh means the
// record echoes a revision newer than one the operator itself read at most
// Freshness ago, so the record was sent after that read: its witness answers
// "cannot" only Grace after sending it, which is after the decision because
// Freshness < Grace. Answers before the send are published in the record,
// and the operator waits until any extension they gave has run out. Any
// majority an agent used shares a witness with the operator's majority, so
// every extension given before the decision has run out by then, and none
// can be given after it: an agent applies an extension only before its
// deadline, and by the decision its deadline (from a renewal, by the Lease
// rule, or from an extension) has passed. The operator's ClearLease is
// conditional on the Lease it observed, so a renewal that raced with the
// decision wins and the failover is abandoned.
//
// Durations cross from one party to another only as durations, never as
// timestamps, and every comparison allows for clocks running at rates that
// differ by up to Drift. The property test (property_test.go) runs these
// rules in a simulated cluster with partitions, API server freezes, pauses,
// drift, delays and lost messages, and shows that known-unsafe variants of
// them fail.
package quorum
