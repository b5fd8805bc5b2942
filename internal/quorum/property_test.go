package quorum

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/irisha/irisha/internal/agent/lease"
)

// seeds is how many random clusters TestW1UnderAnyFault runs (fixed, so
// make test is repeatable; -quorum.seeds is not needed: a failing seed is
// printed and can be run alone with runSeed).
const seeds = 3000

// randomScenario draws a cluster of 3 to 5 nodes, a Lease of 5, 10 or 15 s,
// clocks anywhere within the drift bound, and up to five faults of any kind
// and length, overlapping as they fall: any subset of parties cut from the
// API server, the API server frozen, peer links cut (a pair, or a node from
// all others), nodes paused or dead, API links slowed, messages lost.
func randomScenario(r *rand.Rand) *scenario {
	n := 3 + r.IntN(3)
	s := &scenario{
		nodes:    n,
		leaseDur: []time.Duration{5, 10, 15}[r.IntN(3)] * time.Second,
		skew:     2 * time.Second,
		timing:   DefaultTiming(),
		lossPct:  []int{0, 0, 1, 5, 30}[r.IntN(5)],
		length:   100 * time.Second,
		peerCuts: map[[2]int][]interval{},
		pauses:   make([][]interval, n),
	}
	for range n + 1 {
		s.rates = append(s.rates, 1+(2*r.Float64()-1)*s.timing.Drift)
		s.apiLinks = append(s.apiLinks, &link{lossPct: s.lossPct})
	}
	parties := func() []int { // a random non-empty subset of nodes and the operator (index n)
		var out []int
		for len(out) == 0 {
			for i := range n + 1 {
				if r.IntN(2) == 0 {
					out = append(out, i)
				}
			}
		}
		return out
	}
	cutPeers := func(a int, iv interval) {
		for b := range n {
			if b != a {
				k := [2]int{min(a, b), max(a, b)}
				s.peerCuts[k] = append(s.peerCuts[k], iv)
			}
		}
	}
	for range r.IntN(6) {
		from := time.Duration(1000+r.IntN(50_000)) * time.Millisecond
		length := []time.Duration{
			time.Duration(100+r.IntN(3000)) * time.Millisecond,
			time.Duration(3+r.IntN(10)) * time.Second,
			time.Duration(10+r.IntN(60)) * time.Second,
		}[r.IntN(3)]
		iv := interval{from, from + length}
		if r.IntN(6) == 0 {
			iv.to = never
		}
		switch r.IntN(7) {
		case 0:
			for _, p := range parties() {
				s.apiLinks[p].cuts = append(s.apiLinks[p].cuts, iv)
			}
		case 1:
			iv.to = min(iv.to, from+length)
			s.apiFreezes = append(s.apiFreezes, iv)
		case 2:
			a, b := r.IntN(n), r.IntN(n)
			s.peerCuts[[2]int{min(a, b), max(a, b)}] = append(s.peerCuts[[2]int{min(a, b), max(a, b)}], iv)
		case 3:
			cutPeers(r.IntN(n), iv)
		case 4:
			for _, p := range parties() {
				if p < n {
					s.pauses[p] = append(s.pauses[p], iv)
				}
			}
		case 5:
			for _, p := range parties() {
				s.apiLinks[p].slow = append(s.apiLinks[p].slow, iv)
				s.apiLinks[p].extra = time.Duration(r.IntN(4000)) * time.Millisecond
			}
		case 6: // a node isolated: cut from the API server and its peers
			a := r.IntN(n)
			s.apiLinks[a].cuts = append(s.apiLinks[a].cuts, iv)
			cutPeers(a, iv)
		}
	}
	return s
}

func runSeed(seed uint64, ru rules) (*scenario, outcome) {
	s := randomScenario(rand.New(rand.NewPCG(seed, 1)))
	return s, run(s, ru, seed)
}

// TestW1UnderAnyFault: whatever the faults, the replacement never takes the
// Lease while the old IRIS can still run.
func TestW1UnderAnyFault(t *testing.T) {
	var failovers, kills int
	for seed := range uint64(seeds) {
		s, out := runSeed(seed, realRules())
		if out.overlap {
			t.Fatalf("seed %d: the replacement took the Lease at %v while the old IRIS ran until %v\n%s", seed, out.started, out.killed, describe(s))
		}
		if out.decided {
			failovers++
		}
		if out.killed != never {
			kills++
		}
	}
	// Not an assertion of rates, only that the faults drawn do both.
	if failovers == 0 || kills == 0 {
		t.Fatalf("the scenarios never made a failover (%d) or a fence (%d): the test explores nothing", failovers, kills)
	}
	t.Logf("%d clusters: %d failovers, %d fences, no second writer", seeds, failovers, kills)
}

// TestUnsafeVariantsAreCaught substitutes rules known to be unsafe, one at
// a time, and requires the random clusters to find a second writer with
// each: the property test can fail.
func TestUnsafeVariantsAreCaught(t *testing.T) {
	variants := map[string]func(*rules){
		// Today's rule alone: the operator ignores the witnesses.
		"operator ignores the witnesses": func(r *rules) {
			r.judge = func(Timing, time.Time, []string, []Read, []Record, time.Duration, time.Duration) Judgement {
				return Judgement{Quorum: true}
			}
		},
		// Fresh records, but their published "cannot" answers not waited out.
		"operator ignores published answers": func(r *rules) {
			real := r.judge
			r.judge = func(t Timing, now time.Time, m []string, reads []Read, recs []Record, l, skew time.Duration) Judgement {
				j := real(t, now, m, reads, recs, l, skew)
				j.NotBefore = time.Time{}
				return j
			}
		},
		// An agent that extends on its own witness's word (a minority).
		"agent extends on any cannot": func(r *rules) {
			r.majority = func(members []string, answers []Answer) bool {
				for _, a := range answers {
					if a.Cannot {
						return true
					}
				}
				return false
			}
		},
		// Not listed, because a second rule covers each of them, so that
		// substituting one alone makes no second writer (tried): a witness
		// that answers "cannot" without its grace (its answers after a
		// fresh record's send would extend an agent past the decision, but
		// that agent is past its deadline by then: Freshness is shorter
		// than the safety margin plus the skew margin), and an operator
		// that does not restart its Lease window after a gap in its reads
		// (the witnesses' published answers hold it).
	}
	for name, mutate := range variants {
		t.Run(name, func(t *testing.T) {
			ru := realRules()
			mutate(&ru)
			for seed := range uint64(seeds) {
				if _, out := runSeed(seed, ru); out.overlap {
					t.Logf("caught at seed %d", seed)
					return
				}
			}
			t.Fatalf("no second writer in %d clusters with the unsafe variant: the property test would not notice it", seeds)
		})
	}
}

// calm is a cluster with no faults but those a test adds.
func calm(nodes int, leaseDur time.Duration) *scenario {
	s := &scenario{
		nodes: nodes, leaseDur: leaseDur, skew: 2 * time.Second, timing: DefaultTiming(),
		length: 200 * time.Second, peerCuts: map[[2]int][]interval{}, pauses: make([][]interval, nodes),
	}
	for i := range nodes + 1 {
		// The slowest and fastest clocks the drift bound allows, alternating.
		s.rates = append(s.rates, 1+s.timing.Drift*float64(1-2*(i%2)))
		s.apiLinks = append(s.apiLinks, &link{})
	}
	return s
}

func cutAll(s *scenario, iv interval) {
	for _, l := range s.apiLinks {
		l.cuts = append(l.cuts, iv)
	}
}

// TestControlPlaneOutageStopsNothing: the API server out of reach of every
// node and of the operator, or frozen, for any length: no IRIS stops and
// nothing fails over, during it or after.
func TestControlPlaneOutageStopsNothing(t *testing.T) {
	for _, leaseDur := range []time.Duration{5 * time.Second, 10 * time.Second} {
		for _, length := range []time.Duration{3 * time.Second, 30 * time.Second, 120 * time.Second} {
			for _, freeze := range []bool{false, true} {
				for seed := range uint64(5) {
					s := calm(3, leaseDur)
					iv := interval{20*time.Second + time.Duration(seed)*377*time.Millisecond, 0}
					iv.to = iv.from + length
					if freeze {
						s.apiFreezes = append(s.apiFreezes, iv)
					} else {
						cutAll(s, iv)
					}
					out := run(s, realRules(), seed)
					if out.killed != never || out.decided {
						t.Errorf("lease %v, outage %v (freeze %v), seed %d: IRIS stopped at %v, failover %v", leaseDur, length, freeze, seed, out.killed, out.decided)
					}
				}
			}
		}
	}
}

// TestNodeLossFailsOver: a dead node's IRIS is replaced within the Lease
// rule's time (the dead witness never said "cannot", so the others hold).
func TestNodeLossFailsOver(t *testing.T) {
	for seed := range uint64(20) {
		s := calm(3+int(seed%3), 10*time.Second)
		death := 20*time.Second + time.Duration(seed)*211*time.Millisecond
		s.pauses[0] = []interval{{death, never}}
		out := run(s, realRules(), seed)
		// Lease plus skew after the last renewal, stretched by drift, plus
		// a read period and the replacement's poll.
		limit := death + DefaultTiming().Stretch(12*time.Second) + 2*time.Second
		if out.started == never || out.started > limit {
			t.Errorf("seed %d: node died at %v, replacement took the Lease at %v (want by %v)", seed, death, out.started, limit)
		}
	}
}

// TestIsolatedNodeFences: a node cut from the API server and from every
// other node stops its IRIS, and the instance fails over.
func TestIsolatedNodeFences(t *testing.T) {
	for seed := range uint64(20) {
		s := calm(3, 10*time.Second)
		iv := interval{20*time.Second + time.Duration(seed)*173*time.Millisecond, never}
		s.apiLinks[0].cuts = []interval{iv}
		for b := 1; b < 3; b++ {
			s.peerCuts[[2]int{0, b}] = []interval{iv}
		}
		out := run(s, realRules(), seed)
		if out.killed == never || out.started == never || out.started < out.killed {
			t.Errorf("seed %d: isolated at %v: old IRIS dead at %v, replacement at %v", seed, iv.from, out.killed, out.started)
		}
	}
}

// TestSplitWithTheAPIServerOnTheMinoritySide: nodes 0 and 1 lose the API
// server but still talk to each other; node 2 and the operator keep it. The
// agent on node 0 keeps IRIS running on its majority, and the operator,
// seeing one witness of three, holds the failover.
func TestSplitWithTheAPIServerOnTheMinoritySide(t *testing.T) {
	for seed := range uint64(20) {
		s := calm(3, 10*time.Second)
		iv := interval{20*time.Second + time.Duration(seed)*97*time.Millisecond, never}
		s.apiLinks[0].cuts = []interval{iv}
		s.apiLinks[1].cuts = []interval{iv}
		out := run(s, realRules(), seed)
		if out.killed != never || out.decided {
			t.Errorf("seed %d: IRIS stopped at %v, failover %v", seed, out.killed, out.decided)
		}
	}
}

// TestBlipsAreRiddenOut: cuts of the agent's node from the API server for
// up to half the fence deadline, twenty times, never stop IRIS.
func TestBlipsAreRiddenOut(t *testing.T) {
	for _, leaseDur := range []time.Duration{5 * time.Second, 10 * time.Second} {
		for seed := range uint64(10) {
			s := calm(3, leaseDur)
			r := rand.New(rand.NewPCG(seed, 3))
			lt := lease.DefaultTiming(s.leaseDur)
			half := (lt.Duration - lt.SafetyMargin) / 2
			at := 10 * time.Second
			for range 20 {
				at += time.Duration(r.IntN(int(s.leaseDur)))
				length := time.Duration(r.Int64N(int64(half)))
				s.apiLinks[0].cuts = append(s.apiLinks[0].cuts, interval{at, at + length})
				at += length + s.leaseDur
			}
			s.length = at + 10*time.Second
			if out := run(s, realRules(), seed); out.killed != never {
				t.Errorf("lease %v seed %d: IRIS stopped at %v", leaseDur, seed, out.killed)
			}
		}
	}
}

// TestSlowAPIServerFailsNothingOver: 2 s of added latency on every path for
// 60 s: no failover, no fence.
func TestSlowAPIServerFailsNothingOver(t *testing.T) {
	for seed := range uint64(10) {
		s := calm(3, 10*time.Second)
		for _, l := range s.apiLinks {
			l.slow, l.extra = []interval{{20 * time.Second, 80 * time.Second}}, 2*time.Second
		}
		if out := run(s, realRules(), seed); out.killed != never || out.decided {
			t.Errorf("seed %d: IRIS stopped at %v, failover %v", seed, out.killed, out.decided)
		}
	}
}

func describe(s *scenario) string {
	out := fmt.Sprintf("nodes %d, lease %v, loss %d%%, rates %v\n", s.nodes, s.leaseDur, s.lossPct, s.rates)
	for i, l := range s.apiLinks {
		if len(l.cuts)+len(l.slow) > 0 {
			out += fmt.Sprintf("  api link %d: cuts %v slow %v (+%v)\n", i, l.cuts, l.slow, l.extra)
		}
	}
	for k, v := range s.peerCuts {
		out += fmt.Sprintf("  peers %v cut %v\n", k, v)
	}
	for i, p := range s.pauses {
		if len(p) > 0 {
			out += fmt.Sprintf("  node %d paused %v\n", i, p)
		}
	}
	if len(s.apiFreezes) > 0 {
		out += fmt.Sprintf("  API server frozen %v\n", s.apiFreezes)
	}
	return out
}
