// Package fsbench measures how long synchronous small writes take on a
// filesystem: it appends blocks to a scratch file and fsyncs after each,
// the way a database journal commits, and reports the latency
// percentiles. `irisha-manager fsbench` (hidden) runs it in the scratch pod
// that `irisha doctor --bench-storage` starts on a volume of the class
// under test; the figures go to the container's termination message, so the
// CLI reads them from the pod's status without pod logs or exec.
package fsbench
