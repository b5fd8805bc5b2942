// Package chaos runs the reference article's failure drills against one
// IrisInstance and measures each the way a user of the database would: a
// writer appends sequence-numbered rows to IRIS and records every
// acknowledgement, and
//
//   - RTO is the time from the fault to the first write acknowledged after
//     the outage began (at the first write that failed after the fault: a
//     fault can take a moment to bite, and rows IRIS still took before it
//     did are no recovery); a drill no write failed in has RTO 0;
//   - RPO is the rows that were acknowledged and are missing once the
//     instance has recovered.
//
// Each drill's timeline (fault, detected, fenced, volume attached, pod
// Ready, first write) comes from watching the API server and from the
// failover record the operator keeps in the instance's status.
//
// The drills need two things from outside: a way into the IRIS container
// (Execer: kubectl exec's remotecommand on a real cluster, the simulated
// kubelet in the simulated one) and, for the faults the API cannot cause,
// a way to kill or cut off a node (NodeFaults: a user-supplied command on a
// real cluster, the simulated cluster's own hooks). Reports are a terminal
// table (Table), Markdown, JSON, and a self-contained HTML page with an
// inline SVG timeline per drill, readable without JavaScript. The words for
// an outcome (outcome.go) and the fault-domain table (fault_table.go) are
// shared by every renderer, so no two of them disagree; timeline.go lays
// the SVG out in Go, and report.html.tmpl only draws it.
package chaos
