// Package observe measures what chaos does to an application, on the
// simulated cluster or any other, from the API server's point of view, by watching (not
// polling) pods, nodes, claims, volumes, VolumeAttachments and events:
//
//   - W1 records every interval during which one volume is attached to two
//     nodes, or two pods of one application are running at once: the
//     single-writer invariant's observable violations.
//   - RTO clocks one fault: from injection until a pod of the application
//     is Ready on a Ready node with its volumes attached there.
//   - Timeline records the first occurrence of each event reason (Multi-
//     Attach, taint eviction, ...) after the fault, for reports.
//
// The cores are pure (fed timestamped objects) and tested with synthetic
// sequences; Watch feeds them from informers.
package observe
