package quorum

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/irisha/irisha/internal/agent/lease"
)

// This file is a discrete-event model of one instance in a cluster: an API
// server (a linearizable store with revisions, which can freeze), a witness
// on every node, the agent holding the Lease on node 0, its replacement on
// node 1, and the operator. Every party runs on its own clock (any rate
// within Drift), on a node that can pause or die, and talks over links that
// can be cut, slowed or lose messages. The parties decide with the package's
// rules (or with a substituted variant, to show the property test catches
// it); everything else is the protocol as the agent, the witness and the
// operator carry it out.

const never = time.Duration(math.MaxInt64)

// rules are the decisions under test.
type rules struct {
	answer   func(w *Witness, now time.Time) bool
	majority func(members []string, answers []Answer) bool
	// extend is the agent's rule for applying an extension (the one
	// lease.Hold applies).
	extend func(t lease.Timing, base, asked, now time.Time) bool
	judge  func(t Timing, now time.Time, members []string, reads []Read, records []Record, leaseDuration, skew time.Duration) Judgement
}

func realRules() rules {
	return rules{answer: (*Witness).Answer, majority: Majority, extend: lease.Timing.MayExtend, judge: Judge}
}

// interval is [from, to) in real time.
type interval struct{ from, to time.Duration }

func (i interval) holds(t time.Duration) bool { return t >= i.from && t < i.to }

// link is what can go wrong between two points.
type link struct {
	cuts    []interval
	slow    []interval
	extra   time.Duration // latency added during slow
	lossPct int
}

func (l *link) cut(t time.Duration) bool {
	for _, c := range l.cuts {
		if c.holds(t) {
			return true
		}
	}
	return false
}

func (l *link) latency(r *rand.Rand, t time.Duration) time.Duration {
	d := time.Duration(1+r.IntN(20)) * time.Millisecond
	for _, s := range l.slow {
		if s.holds(t) {
			d += l.extra
		}
	}
	return d
}

// scenario is one run's faults and parameters.
type scenario struct {
	nodes      int
	leaseDur   time.Duration
	skew       time.Duration
	timing     Timing
	rates      []float64 // per node, then the operator last
	pauses     [][]interval
	apiLinks   []*link // per node, then the operator last
	peerCuts   map[[2]int][]interval
	apiFreezes []interval
	lossPct    int
	length     time.Duration
}

func (s *scenario) peerCut(a, b int, t time.Duration) bool {
	if a == b {
		return false
	}
	for _, c := range s.peerCuts[[2]int{min(a, b), max(a, b)}] {
		if c.holds(t) {
			return true
		}
	}
	return false
}

// pausedUntil is when node n runs again if it is paused at t (t if not).
func (s *scenario) pausedUntil(n int, t time.Duration) time.Duration {
	for _, p := range s.pauses[n] {
		if p.holds(t) {
			return p.to
		}
	}
	return t
}

// clock maps real time to a party's monotonic clock and back.
type clock struct{ rate float64 }

var epoch = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func (c clock) local(t time.Duration) time.Time {
	return epoch.Add(time.Duration(float64(t) * c.rate))
}

func (c clock) real(l time.Time) time.Duration {
	return time.Duration(float64(l.Sub(epoch)) / c.rate)
}

// span is how long in real time d takes on this clock.
func (c clock) span(d time.Duration) time.Duration { return time.Duration(float64(d) / c.rate) }

type event struct {
	at  time.Duration
	seq int
	fn  func()
}

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	return e[i].at < e[j].at || e[i].at == e[j].at && e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// outcome of a run.
type outcome struct {
	// killed: when the old IRIS was dead (never if it ran to the end).
	killed time.Duration
	// started: when the replacement took the Lease (never if it did not).
	started time.Duration
	// overlap: the old IRIS ran (not paused) after the replacement started.
	overlap bool
	// decided: the operator cleared the Lease.
	decided bool
}

type world struct {
	s     *scenario
	rules rules
	r     *rand.Rand
	q     events
	seq   int
	now   time.Duration
	lt    lease.Timing

	// API server state.
	rev      int64
	holder   string
	leaseRV  int64
	records  map[string]Record
	recordRV map[string]int64

	agent     *agentModel
	witnesses []*witnessModel
	op        *operatorModel
	out       outcome
}

func run(s *scenario, ru rules, seed uint64) outcome {
	w := &world{
		s: s, rules: ru, r: rand.New(rand.NewPCG(seed, 7)),
		lt:      lease.DefaultTiming(s.leaseDur),
		records: map[string]Record{}, recordRV: map[string]int64{},
		out: outcome{killed: never, started: never},
	}
	w.rev, w.holder, w.leaseRV = 1, "old", 1
	for n := range s.nodes {
		wm := &witnessModel{w: w, node: n, name: "w" + strconv.Itoa(n), clk: clock{s.rates[n]}}
		wm.state = NewWitness(s.timing, wm.clk.local(0))
		w.witnesses = append(w.witnesses, wm)
		w.at(time.Duration(w.r.IntN(int(s.timing.Period))), n, wm.tick)
	}
	a := &agentModel{w: w, clk: clock{s.rates[0]}}
	a.deadline = w.lt.FenceDeadline(a.clk.local(0))
	w.agent = a
	w.at(w.lt.RenewInterval/2, 0, a.tick)
	w.at(a.clk.real(a.deadline), 0, a.check)
	w.op = &operatorModel{w: w, clk: clock{s.rates[s.nodes]}, seen: map[string]seenRecord{}}
	w.op.leaseSince, w.op.readsSince = w.op.clk.local(0), w.op.clk.local(0)
	w.at(0, -1, w.op.tick)
	repl := &replacementModel{w: w, clk: clock{s.rates[1]}}
	w.at(0, 1, repl.tick)

	for w.q.Len() > 0 {
		e := heap.Pop(&w.q).(event)
		if e.at > s.length {
			break
		}
		w.now = e.at
		e.fn()
	}
	if w.out.started != never {
		// The old IRIS writes whenever node 0 runs before it is dead.
		for t := w.out.started; t < min(w.out.killed, s.length); t += 5 * time.Millisecond {
			if s.pausedUntil(0, t) == t {
				w.out.overlap = true
				break
			}
		}
	}
	return w.out
}

// at schedules fn at real time t on node n (-1: the operator, which no
// node fault reaches); a paused node runs it when it resumes.
func (w *world) at(t time.Duration, n int, fn func()) {
	if n >= 0 {
		t = w.s.pausedUntil(n, t)
		if t == never {
			return
		}
	}
	w.seq++
	heap.Push(&w.q, event{at: t, seq: w.seq, fn: fn})
}

func (w *world) apiLink(n int) *link {
	if n < 0 {
		return w.s.apiLinks[w.s.nodes]
	}
	return w.s.apiLinks[n]
}

func (w *world) lost(l *link, sent, arrives time.Duration) bool {
	return l.cut(sent) || l.cut(arrives) || w.r.IntN(100) < l.lossPct
}

// call sends a request from node n to the API server: op runs there when it
// arrives (or when a freeze ends), and its reply comes back to reply, on
// node n, unless a message is lost.
func (w *world) call(n int, op func() any, reply func(any)) {
	l := w.apiLink(n)
	arrives := w.now + l.latency(w.r, w.now)
	if w.lost(l, w.now, arrives) {
		return
	}
	for _, f := range w.s.apiFreezes {
		if f.holds(arrives) {
			arrives = f.to
		}
	}
	w.seq++
	heap.Push(&w.q, event{at: arrives, seq: w.seq, fn: func() {
		res := op()
		back := w.now + time.Duration(1+w.r.IntN(20))*time.Millisecond
		if w.lost(l, w.now, back) {
			return
		}
		w.at(back, n, func() { reply(res) })
	}})
}

// peer sends a message from node a to node b over the peer network.
func (w *world) peer(a, b int, fn func()) {
	arrives := w.now + time.Duration(1+w.r.IntN(10))*time.Millisecond
	if w.s.peerCut(a, b, w.now) || w.s.peerCut(a, b, arrives) || w.r.IntN(100) < w.s.lossPct {
		return
	}
	w.at(arrives, b, fn)
}

func (w *world) members() []string {
	m := make([]string, w.s.nodes)
	for i := range m {
		m[i] = "w" + strconv.Itoa(i)
	}
	return m
}

// --- the agent holding the Lease (node 0) ---

// The agent's pacing, as lease.Hold and the witness client do it. A renewal
// is abandoned after the attempt timeout and retried at once on a fresh
// connection. While renewals fail the witnesses are asked in rounds, each
// bounded by answerTimeout, the next one askPause after a round without a
// majority and a renew interval after one with.
const (
	retrySpacing  = 100 * time.Millisecond
	retryJitter   = 150 * time.Millisecond
	askPause      = 250 * time.Millisecond
	answerTimeout = time.Second
	// lateKill: an agent that finds itself this far past its deadline (it
	// was paused) kills IRIS at once instead of running iris force first.
	lateKill = time.Second
)

type agentModel struct {
	w        *world
	clk      clock
	deadline time.Time
	dead     bool

	ids int
	// episode counts successful renewals: attempts of an earlier episode
	// are abandoned once one succeeded.
	episode   int
	inFlight  int
	failing   bool
	asking    int // the round of questions in flight, 0 if none
	askedAt   time.Time
	answers   []Answer
	leaseSeen int64
}

func (a *agentModel) localNow() time.Time { return a.clk.local(a.w.now) }

// check stops IRIS once the deadline has passed; every step of the agent
// starts with it, as Hold's timer fires before anything else it does.
func (a *agentModel) check() {
	if a.dead || a.localNow().Before(a.deadline) {
		return
	}
	a.die()
}

func (a *agentModel) die() {
	a.dead = true
	// IRIS is dead within the safety margin (iris force, then SIGKILL), or
	// at once when the agent resumed long past its deadline. A paused
	// process cannot act, so the model takes "at once" literally: the real
	// agent needs milliseconds (docs/failover.md, known limits).
	a.w.out.killed = a.w.now + a.w.lt.SafetyMargin
	if a.localNow().Sub(a.deadline) > lateKill {
		a.w.out.killed = a.w.now
	}
}

func (a *agentModel) setDeadline(d time.Time) {
	a.deadline = d
	a.w.at(a.clk.real(d), 0, a.check)
}

func (a *agentModel) tick() {
	a.check()
	if a.dead {
		return
	}
	if a.inFlight == 0 {
		a.renew()
	}
	a.w.at(a.w.now+a.clk.span(a.w.lt.RenewInterval), 0, a.tick)
}

func (a *agentModel) renew() {
	episode, sent, rv := a.episode, a.localNow(), a.leaseSeen
	a.inFlight++
	w := a.w
	settled := false
	settle := func() bool {
		if settled {
			return false
		}
		settled = true
		a.inFlight--
		return episode == a.episode
	}
	w.call(0, func() any {
		if w.holder == "old" && w.leaseRV == rv {
			w.rev++
			w.leaseRV = w.rev
			return renewal{ok: true, holder: w.holder, rv: w.rev}
		}
		return renewal{holder: w.holder, rv: w.leaseRV}
	}, func(res any) {
		a.check()
		if a.dead || !settle() {
			return
		}
		r := res.(renewal)
		switch {
		case r.ok:
			a.leaseSeen, a.failing = r.rv, false
			a.episode++
			if d := w.lt.FenceDeadline(sent); d.After(a.deadline) {
				a.setDeadline(d)
			}
		case r.holder != "old":
			a.die() // the Lease is someone else's
		default:
			a.leaseSeen = r.rv // our own renewal that timed out, committed
			a.renew()
		}
	})
	w.at(a.clk.real(sent.Add(min(w.lt.AttemptTimeout(), a.deadline.Sub(sent)))), 0, func() {
		a.check()
		if a.dead || !settle() {
			return
		}
		// Retried at once, but no sooner than the spacing after the
		// attempt's start (a refused connection must not spin).
		a.failing = true
		spaced := sent.Add(retrySpacing + time.Duration(w.r.Int64N(int64(retryJitter))))
		w.at(max(w.now, a.clk.real(spaced)), 0, func() {
			a.check()
			if !a.dead && episode == a.episode && a.inFlight == 0 {
				a.renew()
			}
		})
		if a.asking == 0 {
			a.ask()
		}
	})
}

type renewal struct {
	ok     bool
	holder string
	rv     int64
}

func (a *agentModel) ask() {
	a.ids++
	id := a.ids
	a.asking, a.askedAt, a.answers = id, a.localNow(), nil
	w := a.w
	for _, wm := range w.witnesses {
		w.peer(0, wm.node, func() {
			cannot := w.rules.answer(wm.state, wm.clk.local(w.now))
			w.peer(wm.node, 0, func() { a.answer(id, Answer{Witness: wm.name, Cannot: cannot}) })
		})
	}
	w.at(a.clk.real(a.askedAt.Add(answerTimeout)), 0, func() { a.roundOver(id, askPause) })
}

func (a *agentModel) answer(id int, ans Answer) {
	a.check()
	if a.dead || a.asking != id {
		return
	}
	a.answers = append(a.answers, ans)
	if a.w.rules.majority(a.w.members(), a.answers) {
		base := a.deadline.Add(a.w.lt.SafetyMargin - a.w.lt.Duration)
		if a.w.rules.extend(a.w.lt, base, a.askedAt, a.localNow()) {
			a.setDeadline(a.w.lt.FenceDeadline(a.askedAt))
		}
		a.roundOver(id, a.w.lt.RenewInterval)
	} else if len(a.answers) == len(a.w.witnesses) {
		a.roundOver(id, askPause)
	}
}

// roundOver ends round id and, while renewals still fail, asks again after
// pause.
func (a *agentModel) roundOver(id int, pause time.Duration) {
	if a.asking != id {
		return
	}
	a.asking = 0
	a.w.at(a.w.now+a.clk.span(pause), 0, func() {
		a.check()
		if !a.dead && a.failing && a.asking == 0 {
			a.ask()
		}
	})
}

// --- a witness ---

type witnessModel struct {
	w        *world
	node     int
	name     string
	clk      clock
	state    *Witness
	lastRV   string
	probing  bool
	inFlight int
	ids      int
}

func (m *witnessModel) tick() {
	w := m.w
	defer w.at(w.now+m.clk.span(w.s.timing.Period), m.node, m.tick)
	if m.inFlight != 0 {
		return
	}
	m.ids++
	id, sent := m.ids, m.clk.local(w.now)
	m.inFlight = id
	done := func() bool {
		if m.inFlight != id {
			return false
		}
		m.inFlight = 0
		return true
	}
	if m.probing {
		w.call(m.node, func() any { return nil }, func(any) {
			if done() {
				m.state.Succeeded(sent)
				m.probing = false
			}
		})
	} else {
		m.state.Sent(sent)
		rec := Record{Witness: m.name, Echo: m.lastRV, CannotAgo: m.state.CannotAgo(sent)}
		w.call(m.node, func() any {
			w.rev++
			w.records[m.name], w.recordRV[m.name] = rec, w.rev
			return w.rev
		}, func(res any) {
			if done() {
				m.state.Succeeded(sent)
				m.lastRV = strconv.FormatInt(res.(int64), 10)
			}
		})
	}
	w.at(m.clk.real(sent.Add(w.s.timing.Grace)), m.node, func() {
		if done() {
			m.probing = true
		}
	})
}

// --- the operator ---

// operatorReadTimeout: a read of the records not answered within it is a
// gap in the operator's reads.
const operatorReadTimeout = 3 * time.Second

type seenRecord struct {
	rv  int64
	rec Record
}

type operatorModel struct {
	w          *world
	clk        clock
	reads      []Read
	seen       map[string]seenRecord
	leaseRV    int64
	holder     string
	leaseSince time.Time
	readsSince time.Time
	gap        bool
	inFlight   int
	ids        int
}

type listing struct {
	rev     int64
	holder  string
	leaseRV int64
	records map[string]seenRecord
}

func (o *operatorModel) tick() {
	w := o.w
	defer w.at(w.now+o.clk.span(w.s.timing.Period), -1, o.tick)
	if o.inFlight != 0 {
		return
	}
	o.ids++
	id, sent := o.ids, o.clk.local(w.now)
	o.inFlight = id
	w.call(-1, func() any {
		l := listing{rev: w.rev, holder: w.holder, leaseRV: w.leaseRV, records: map[string]seenRecord{}}
		for k, r := range w.records {
			l.records[k] = seenRecord{rv: w.recordRV[k], rec: r}
		}
		return l
	}, func(res any) {
		if o.inFlight != id {
			return
		}
		o.inFlight = 0
		o.observe(sent, res.(listing))
	})
	w.at(o.clk.real(sent.Add(operatorReadTimeout)), -1, func() {
		if o.inFlight == id {
			o.inFlight = 0
			o.gap = true
		}
	})
}

func (o *operatorModel) observe(sent time.Time, l listing) {
	w := o.w
	now := o.clk.local(w.now)
	o.reads = append(o.reads, Read{Sent: sent, Revision: strconv.FormatInt(l.rev, 10)})
	if len(o.reads) > 20 {
		o.reads = o.reads[1:]
	}
	// A gap in the operator's reads restarts its Lease window.
	if o.gap {
		o.readsSince = now
	}
	o.gap = false
	for k, r := range l.records {
		if prev, ok := o.seen[k]; !ok || prev.rv != r.rv {
			r.rec.FirstSeen = now
			o.seen[k] = r
		}
	}
	if l.leaseRV != o.leaseRV {
		o.leaseRV, o.holder, o.leaseSince = l.leaseRV, l.holder, now
	}
	o.decide(now)
}

func (o *operatorModel) decide(now time.Time) {
	w := o.w
	if w.out.decided || o.holder != "old" {
		return
	}
	since := o.leaseSince
	if o.readsSince.After(since) {
		since = o.readsSince
	}
	if now.Before(since.Add(w.s.leaseDur + w.s.skew)) {
		return
	}
	var recs []Record
	for _, r := range o.seen {
		recs = append(recs, r.rec)
	}
	if !w.rules.judge(w.s.timing, now, w.members(), o.reads, recs, w.s.leaseDur, w.s.skew).Allows(now) {
		return
	}
	rv := o.leaseRV
	w.call(-1, func() any {
		if w.leaseRV != rv {
			return false
		}
		w.rev++
		w.holder, w.leaseRV = "", w.rev
		w.out.decided = true
		return true
	}, func(any) {})
}

// --- the replacement's agent (node 1): takes the Lease once it is free ---

type replacementModel struct {
	w   *world
	clk clock
}

func (p *replacementModel) tick() {
	w := p.w
	if w.out.started != never {
		return
	}
	w.call(1, func() any {
		if w.holder == "" {
			w.rev++
			w.holder, w.leaseRV = "new", w.rev
			// Counted from the commit, before its agent even hears of it.
			w.out.started = w.now
		}
		return nil
	}, func(any) {})
	w.at(w.now+p.clk.span(200*time.Millisecond), 1, p.tick)
}
