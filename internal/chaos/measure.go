package chaos

import (
	"slices"
	"time"
)

// The measures, pure over the writer's attempts.
//
// The outage begins at the first attempt started at or after the fault that
// failed: a fault may take a moment to bite (a graceful stop still answers),
// and writes acknowledged before it bit are not a recovery. The RTO runs
// from the fault to the first acknowledgement of an attempt started after
// the outage began.

// outageStart is when the first failed attempt at or after fault started.
func outageStart(atts []attempt, fault time.Time) (time.Time, bool) {
	var first time.Time
	for _, a := range atts {
		if a.err != nil && !a.started.Before(fault) && (first.IsZero() || a.started.Before(first)) {
			first = a.started
		}
	}
	return first, !first.IsZero()
}

// uninterrupted: no attempt failed after the fault, and rows kept being
// acknowledged through the grace after it (attempts that hang, neither
// failing nor answering, are no proof the database was up).
func uninterrupted(atts []attempt, fault time.Time, grace time.Duration) bool {
	if _, out := outageStart(atts, fault); out {
		return false
	}
	late := fault.Add(grace / 2)
	for _, a := range atts {
		if !a.acked.IsZero() && !a.started.Before(late) {
			return true
		}
	}
	return false
}

// firstAck is the attempt started at or after since whose acknowledgement
// came first.
func firstAck(atts []attempt, since time.Time) (attempt, bool) {
	var best attempt
	found := false
	for _, a := range atts {
		if a.acked.IsZero() || a.started.Before(since) {
			continue
		}
		if !found || a.acked.Before(best.acked) {
			best, found = a, true
		}
	}
	return best, found
}

// recovery is the first acknowledgement after the outage that began at or
// after fault; ok is false while there is none (or no outage yet).
func recovery(atts []attempt, fault time.Time) (first attempt, ok bool) {
	start, out := outageStart(atts, fault)
	if !out {
		return attempt{}, false
	}
	return firstAck(atts, start)
}

// lostRows are the acknowledged rows missing from present.
func lostRows(atts []attempt, present []int64) []int64 {
	have := make(map[int64]bool, len(present))
	for _, s := range present {
		have[s] = true
	}
	var lost []int64
	for _, a := range atts {
		if !a.acked.IsZero() && !have[a.seq] {
			lost = append(lost, a.seq)
		}
	}
	slices.Sort(lost)
	return lost
}

// staleAcks counts the rows oldPod acknowledged after another pod had
// acknowledged one following the fault: two pods accepting writes, as the
// application sees it. Zero when the pod did not change.
func staleAcks(atts []attempt, fault time.Time, oldPod string) int {
	var firstNew time.Time
	for _, a := range atts {
		if !a.acked.IsZero() && a.pod != oldPod && !a.started.Before(fault) && (firstNew.IsZero() || a.acked.Before(firstNew)) {
			firstNew = a.acked
		}
	}
	if firstNew.IsZero() {
		return 0
	}
	n := 0
	for _, a := range atts {
		if !a.acked.IsZero() && a.pod == oldPod && a.acked.After(firstNew) {
			n++
		}
	}
	return n
}

// writesOf is the report's view of the attempts, seconds after fault.
func writesOf(atts []attempt, fault time.Time) (writes []Write, acked, failed int) {
	for _, a := range atts {
		at := a.started
		if !a.acked.IsZero() {
			at = a.acked
			acked++
		} else {
			failed++
		}
		writes = append(writes, Write{Seq: a.seq, Seconds: seconds(at.Sub(fault)), Pod: a.pod, OK: a.err == nil && !a.acked.IsZero()})
	}
	return writes, acked, failed
}

// seconds rounds to the millisecond.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
