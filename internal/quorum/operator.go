package quorum

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/resourceversion"
)

// Read is one read of the witness records the operator made past any cache
// (a quorum LIST): when it was sent, on the operator's clock, and the
// revision it returned. Everything committed after that revision was
// committed after the read was sent.
type Read struct {
	Sent     time.Time
	Revision string
}

// Record is a witness's record as the operator read it.
type Record struct {
	Witness string
	// Echo is the resourceVersion of the witness's previous successful
	// write, as the witness wrote it into this record; empty on its first.
	Echo string
	// CannotAgo is how long before sending this record the witness last
	// answered "cannot" (on its clock).
	CannotAgo time.Duration
	// FirstSeen is when the operator first read this version of the
	// record (the receive time of that read, on its clock): the record was
	// sent before.
	FirstSeen time.Time
}

// Judgement says whether the witnesses allow a failover, and from when.
type Judgement struct {
	// Quorum: a strict majority of members wrote fresh records.
	Quorum bool
	// NotBefore is when the answers that majority published stop mattering:
	// no extension they gave can be in force after it.
	NotBefore time.Time
	// Fresh is how many members wrote fresh records, of Members.
	Fresh, Members int
	Message        string
}

// Allows reports whether the judgement lets the operator fail over at now.
func (j Judgement) Allows(now time.Time) bool { return j.Quorum && !now.Before(j.NotBefore) }

// Judge is the operator's part of the witness rule, evaluated at now:
// leaseDuration and skew are the instance's Lease duration and the margin
// the operator adds to it. reads are the operator's recent reads, records
// the latest version of each witness's record.
func Judge(t Timing, now time.Time, members []string, reads []Read, records []Record, leaseDuration, skew time.Duration) Judgement {
	j := Judgement{Members: len(members)}
	var waits []time.Time
	for _, rec := range records {
		if !slices.Contains(members, rec.Witness) || !fresh(t, now, reads, rec.Echo) {
			continue
		}
		// The last "cannot" came at most FirstSeen - CannotAgo (its clock
		// ran no slower than Drift allows); an extension it gave lasts at
		// most a Lease duration from then, on the agent's clock.
		waits = append(waits, rec.FirstSeen.Add(t.Stretch(leaseDuration+skew)-t.Shrink(rec.CannotAgo)))
	}
	j.Fresh = len(waits)
	need := len(members)/2 + 1
	if len(members) == 0 || j.Fresh < need {
		j.Message = fmt.Sprintf("only %d of %d witnesses reach the API server: the control plane may be out of reach of most nodes, so their agents may be keeping IRIS running; no failover until a majority does", j.Fresh, len(members))
		return j
	}
	// Any majority will do: the one whose last answers are oldest.
	slices.SortFunc(waits, func(a, b time.Time) int { return a.Compare(b) })
	j.Quorum, j.NotBefore = true, waits[need-1]
	j.Message = fmt.Sprintf("%d of %d witnesses reach the API server", j.Fresh, len(members))
	return j
}

// fresh: the record echoes a revision newer than a read sent at most
// Freshness before now, so it was sent after that read.
func fresh(t Timing, now time.Time, reads []Read, echo string) bool {
	if echo == "" {
		return false
	}
	for _, r := range reads {
		if now.Sub(r.Sent) > t.Freshness || r.Sent.After(now) {
			continue
		}
		if c, err := resourceversion.CompareResourceVersion(r.Revision, echo); err == nil && c < 0 {
			return true
		}
	}
	return false
}
