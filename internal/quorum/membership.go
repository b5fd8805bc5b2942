package quorum

import (
	"slices"
	"time"
)

// Membership is the set of witnesses a majority is counted from: the
// operator's, and the one it publishes to agents.
//
// Agents keep the set they last read through an outage, so the operator's
// set and an agent's may differ. Any majority of two sets that differ by
// one witness shares a witness (Raft's single-server change), which is what
// the safety argument needs. So the set changes one witness at a time, and
// only when no agent can be running on an extension of the set before (the
// judgement of the current set allows a failover) and every agent that
// reaches the API server has read the current set since the last change
// (the quiet period): an agent that has not must have been cut off for
// longer than any extension it could still hold.
type Membership struct {
	Members []string
	// Changed is when the operator last changed the set, on its clock (or
	// started: it does not know when its predecessor did).
	Changed time.Time
}

// QuietPeriod between two changes of the set: longer than the longest
// Lease and its skew margin, plus twice the period at which agents re-read
// the set.
func QuietPeriod(longestLease, skew, agentRefresh time.Duration) time.Duration {
	return longestLease + skew + 2*agentRefresh
}

// Next is the set after one step towards live (the witnesses whose nodes
// exist and that wrote a valid record): unchanged, or with one witness
// added or removed. An empty set (nothing published yet, so no agent can
// count on any set) becomes live at once. allows says whether the current
// set's judgement allows a failover now.
func (m Membership) Next(live []string, now time.Time, quiet time.Duration, allows bool) (Membership, bool) {
	if len(m.Members) == 0 {
		if len(live) == 0 {
			return m, false
		}
		return Membership{Members: sorted(live), Changed: now}, true
	}
	if !allows || now.Sub(m.Changed) < quiet {
		return m, false
	}
	// Additions first: a removal shrinks the set a majority is counted of.
	for _, w := range sorted(live) {
		if !slices.Contains(m.Members, w) {
			return Membership{Members: sorted(append(slices.Clone(m.Members), w)), Changed: now}, true
		}
	}
	for _, w := range m.Members {
		if !slices.Contains(live, w) {
			return Membership{Members: slices.DeleteFunc(slices.Clone(m.Members), func(x string) bool { return x == w }), Changed: now}, true
		}
	}
	return m, false
}

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}
