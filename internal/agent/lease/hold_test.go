package lease_test

// These tests run in synctest bubbles: time is fake and moves only when
// every goroutine is blocked, so a Sleep below is a step of that clock, and
// timings are exact.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/agent/lease"
)

const extensionLogged = "API server unreachable for a majority of witnesses too: keeping IRIS running"

// holder is one agent holding the Lease in a bubble.
type holder struct {
	t      *testing.T
	l      *lease.Lease
	t0     time.Time // when it acquired the Lease
	done   chan error
	cancel context.CancelFunc
	ended  bool
	err    error
	logs   *logLines
}

// hold acquires the Lease at the bubble's current time, then runs Hold.
func hold(t *testing.T, api *fakeAPI, cfg lease.Config) *holder {
	t.Helper()
	cfg.Namespace, cfg.Name, cfg.Identity = testNamespace, testLease, testIdentity
	if cfg.CloseConnections == nil {
		cfg.CloseConnections = api.CloseAll
	}
	logs := &logLines{t: t}
	l, err := lease.New(cfg, api.client(), logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	h := &holder{t: t, l: l, t0: time.Now(), done: make(chan error, 1), cancel: cancel, logs: logs}
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- l.Hold(ctx) }()
	return h
}

// until moves the bubble's clock to at and lets everything settle.
func until(at time.Time) {
	time.Sleep(time.Until(at))
	synctest.Wait()
}

// holding reports whether Hold still runs.
func (h *holder) holding() bool {
	if !h.ended {
		select {
		case h.err = <-h.done:
			h.ended = true
		default:
		}
	}
	return !h.ended
}

// stop ends Hold and returns what it returned.
func (h *holder) stop() error {
	h.cancel()
	if !h.ended {
		h.err, h.ended = <-h.done, true
	}
	return h.err
}

// logLines collects what the Lease logs.
type logLines struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (g *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		g.mu.Lock()
		g.lines = append(g.lines, args)
		g.mu.Unlock()
		g.t.Log(time.Now().Format("15:04:05.000"), args)
	}, funcr.Options{Verbosity: 1})
}

func (g *logLines) count(msg string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, l := range g.lines {
		if strings.Contains(l, `"msg"="`+msg+`"`) {
			n++
		}
	}
	return n
}

func puts(rs []request) []request {
	var out []request
	for _, r := range rs {
		if r.method == http.MethodPut {
			out = append(out, r)
		}
	}
	return out
}

// TestHungRenewalIsAbandonedAndRetriedAtOnce: the renewal that is due goes
// out into a cut and never gets an answer; it is abandoned after the attempt
// timeout, and the retry goes out at once on a new connection and succeeds,
// long before the deadline.
func TestHungRenewalIsAbandonedAndRetriedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		timing := lease.DefaultTiming(10 * time.Second)
		api := newFakeAPI(t)
		h := hold(t, api, lease.Config{Timing: timing})
		due := h.t0.Add(timing.RenewInterval)
		api.cut(due, due.Add(time.Second), false)
		retried := due.Add(timing.AttemptTimeout())
		until(retried.Add(time.Millisecond))

		ps := puts(api.log())
		if len(ps) != 2 {
			t.Fatalf("renewals sent: %v, want the hung one and its retry", ps)
		}
		if hung := ps[0]; !hung.start.Equal(due) || hung.status != 0 || hung.end.Sub(hung.start) != timing.AttemptTimeout() {
			t.Errorf("the hung renewal: %v; want sent at %s and abandoned %s later", hung, due.Format("15:04:05.000"), timing.AttemptTimeout())
		}
		if retry := ps[1]; !retry.start.Equal(retried) || retry.status != http.StatusOK || retry.conn == ps[0].conn {
			t.Errorf("the retry: %v; want sent at once (%s), on a new connection, and renewed", retry, retried.Format("15:04:05.000"))
		}
		if !h.holding() {
			t.Fatalf("Hold returned: %v", h.err)
		}
		if got, want := h.l.Deadline(), timing.FenceDeadline(retried); !got.Equal(want) {
			t.Errorf("Deadline = %s, want %s (from the retry's send)", got.Format("15:04:05.000"), want.Format("15:04:05.000"))
		}
		if err := h.stop(); err != nil {
			t.Errorf("Hold after the stop: %v", err)
		}
	})
}

// agentTestTiming is the agent process tests' (internal/agent): the
// tightest timing in use.
var agentTestTiming = lease.Timing{Duration: 3 * time.Second, RenewInterval: 500 * time.Millisecond, SafetyMargin: time.Second}

// TestCutOfHalfTheDeadlineDoesNotFence: a cut of half of leaseDuration -
// safetyMargin never stops IRIS, wherever it starts between two renewals (up
// to exactly when a renewal goes out), whether it leaves requests hanging or
// refuses them.
func TestCutOfHalfTheDeadlineDoesNotFence(t *testing.T) {
	for _, timing := range []lease.Timing{lease.DefaultTiming(10 * time.Second), lease.DefaultTiming(5 * time.Second), agentTestTiming} {
		for _, refuse := range []bool{false, true} {
			mode := map[bool]string{false: "hang", true: "refuse"}[refuse]
			for k := range 11 {
				t.Run(fmt.Sprintf("%s/%s/%d", timing.Duration, mode, k), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						testCut(t, timing, refuse, k)
					})
				})
			}
		}
	}
}

// testCut cuts k/10 of a renew interval after the Lease was taken: k = 10
// is exactly when the first renewal goes out.
func testCut(t *testing.T, timing lease.Timing, refuse bool, k int) {
	api := newFakeAPI(t)
	h := hold(t, api, lease.Config{Timing: timing})
	window := timing.Duration - timing.SafetyMargin
	from := h.t0.Add(timing.RenewInterval * time.Duration(k) / 10)
	healed := from.Add(window / 2)
	api.cut(from, healed, refuse)
	until(healed.Add(window))

	if !h.holding() {
		t.Fatalf("a cut of %s, %s after the last renewal: %v", window/2, from.Sub(h.t0), h.err)
	}
	rs := api.renewals()
	if len(rs) == 0 || rs[len(rs)-1].Before(healed) {
		t.Errorf("no renewal since the cut healed: %v", rs)
	}
	during := 0
	for _, p := range puts(api.log()) {
		if took := p.end.Sub(p.start); took > timing.AttemptTimeout() {
			t.Errorf("a renewal sent at %s ran %s, longer than the attempt timeout", p.start.Sub(h.t0), took)
		}
		if !p.start.Before(from) && p.start.Before(healed) {
			during++
		}
	}
	// Refused attempts are paced, not spun.
	if most := int(window/2/(100*time.Millisecond)) + 1; during > most {
		t.Errorf("%d attempts during the cut of %s, want at most %d", during, window/2, most)
	}
	if err := h.stop(); err != nil {
		t.Errorf("Hold after the stop: %v", err)
	}
}

// witnesses is an Extender whose answers take rtt.
type witnesses struct {
	rtt time.Duration
	// ok is the answer; nil means "ask the test": it blocks until a value
	// comes on answers, ignoring the context, as a buggy Extender might.
	ok      *bool
	answers chan bool
	// answeredNow: the base is when the answer comes (witnesses asked
	// again at the last moment), not when Extend was called.
	answeredNow bool
	now         func() time.Time

	mu                    sync.Mutex
	asked                 []time.Time
	inFlight, maxInFlight int
}

func (w *witnesses) Extend(ctx context.Context) (time.Time, bool) {
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	asked := now()
	w.mu.Lock()
	w.asked = append(w.asked, asked)
	w.inFlight++
	w.maxInFlight = max(w.maxInFlight, w.inFlight)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.inFlight--
		w.mu.Unlock()
	}()
	if w.ok == nil {
		ok := <-w.answers
		if w.answeredNow {
			return now(), ok
		}
		return asked, ok
	}
	select {
	case <-time.After(w.rtt):
		return asked, *w.ok
	case <-ctx.Done():
		return time.Time{}, false
	}
}

func (w *witnesses) calls() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.asked...)
}

// TestExtenderKeepsTheLeasePastTheDeadline: while the API server is out of
// reach for a majority of the witnesses too, IRIS keeps running past the
// deadline a renewal would have given; the witnesses are asked one call at a
// time, and the extension is logged once.
func TestExtenderKeepsTheLeasePastTheDeadline(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(map[bool]string{false: "hang", true: "refuse"}[refuse], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				timing := lease.DefaultTiming(10 * time.Second)
				api := newFakeAPI(t)
				w := &witnesses{rtt: 300 * time.Millisecond, ok: ptr.To(true)}
				h := hold(t, api, lease.Config{Timing: timing, Extender: w})
				due := h.t0.Add(timing.RenewInterval)
				unextended := timing.FenceDeadline(h.t0)
				api.cut(due, due.Add(time.Hour), refuse)
				until(unextended.Add(3 * timing.Duration))

				if !h.holding() {
					t.Fatalf("fenced although the witnesses vouched: %v", h.err)
				}
				if got := h.l.Deadline(); !got.After(time.Now()) {
					t.Errorf("Deadline = %s, want after now (extensions included)", got.Sub(h.t0))
				}
				if len(w.calls()) < 2 || w.maxInFlight != 1 {
					t.Errorf("Extend called %d times, up to %d at once; want several, one at a time", len(w.calls()), w.maxInFlight)
				}
				if n := h.logs.count(extensionLogged); n != 1 {
					t.Errorf("the extension was logged %d times, want once", n)
				}
				if err := h.stop(); err != nil {
					t.Errorf("Hold after the stop: %v", err)
				}
			})
		})
	}
}

// laggingClock is the real clock (the bubble's) whose Now runs ahead of its
// timers by lag: an agent that was not running for lag (a frozen node)
// finds its timers due, and has not yet seen them fire.
type laggingClock struct {
	clock.RealClock
	lag atomic.Int64
}

func (c *laggingClock) Now() time.Time { return c.RealClock.Now().Add(time.Duration(c.lag.Load())) }

func (c *laggingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// TestLateExtensionFences: a positive answer that comes after the deadline
// is not applied: the agent is fenced at its deadline.
func TestLateExtensionFences(t *testing.T) {
	timing := lease.DefaultTiming(10 * time.Second)
	// The answer comes after the deadline; the fence comes first.
	t.Run("answered after the deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := newFakeAPI(t)
			w := &witnesses{answers: make(chan bool)}
			defer close(w.answers)
			h := hold(t, api, lease.Config{Timing: timing, Extender: w})
			deadline := timing.FenceDeadline(h.t0)
			api.cut(h.t0.Add(timing.RenewInterval), h.t0.Add(time.Hour), false)
			until(deadline.Add(-time.Millisecond))
			if !h.holding() {
				t.Fatalf("fenced before the deadline: %v", h.err)
			}
			until(deadline)
			w.answers <- true
			synctest.Wait()
			checkFenced(t, h, deadline)
		})
	})
	// The agent was not running when the answer came; it finds the answer
	// and its fence due together, and reads the answer first.
	t.Run("received past the deadline before the fence fired", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := newFakeAPI(t)
			clk := &laggingClock{}
			w := &witnesses{answers: make(chan bool), now: clk.Now}
			defer close(w.answers)
			h := hold(t, api, lease.Config{Timing: timing, Extender: w, Clock: clk})
			deadline := timing.FenceDeadline(h.t0)
			// Hung attempts, so that none starts between the answer and
			// the fence.
			api.cut(h.t0.Add(timing.RenewInterval), h.t0.Add(time.Hour), false)
			until(deadline.Add(-500 * time.Millisecond))
			if len(w.calls()) != 1 || !h.holding() {
				t.Fatalf("Extend called %d times (want 1), Hold returned %v", len(w.calls()), h.err)
			}
			clk.lag.Store(int64(600 * time.Millisecond))
			w.answers <- true
			until(deadline)
			checkFenced(t, h, deadline)
		})
	})
}

func checkFenced(t *testing.T, h *holder, deadline time.Time) {
	t.Helper()
	if h.holding() {
		t.Fatalf("still holding at the deadline after a late extension; Deadline = +%s", h.l.Deadline().Sub(h.t0))
	}
	if !errors.Is(h.err, lease.ErrFenced) {
		t.Errorf("Hold = %v, want ErrFenced", h.err)
	}
	if got := h.l.Deadline(); !got.Equal(deadline) {
		t.Errorf("Deadline = +%s, want the unextended +%s", got.Sub(h.t0), deadline.Sub(h.t0))
	}
}

// TestRenewalAfterExtensionsResetsTheCadence: once a renewal succeeds after
// an outage ridden out on extensions, the agent renews every renew interval
// again, stops asking the witnesses, and its deadline counts from its
// renewals; a second outage is logged again.
func TestRenewalAfterExtensionsResetsTheCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		timing := lease.DefaultTiming(10 * time.Second)
		window := timing.Duration - timing.SafetyMargin
		api := newFakeAPI(t)
		w := &witnesses{rtt: 300 * time.Millisecond, ok: ptr.To(true)}
		h := hold(t, api, lease.Config{Timing: timing, Extender: w})
		from := h.t0.Add(timing.RenewInterval)
		healed := from.Add(2 * window)
		api.cut(from, healed, true)
		until(healed.Add(5 * timing.RenewInterval))

		if !h.holding() {
			t.Fatalf("fenced: %v", h.err)
		}
		var after []time.Time
		for _, r := range api.renewals() {
			if !r.Before(healed) {
				after = append(after, r)
			}
		}
		if len(after) < 4 || after[0].Sub(healed) > 250*time.Millisecond {
			t.Fatalf("renewals since the heal at +%s: %v", healed.Sub(h.t0), after)
		}
		for i := 1; i < len(after); i++ {
			if d := after[i].Sub(after[i-1]); d != timing.RenewInterval {
				t.Errorf("renewal %d after the heal came %s after the one before, want the renew interval %s", i, d, timing.RenewInterval)
			}
		}
		for _, a := range w.calls() {
			if a.After(after[0]) {
				t.Errorf("the witnesses were asked at +%s, after renewals resumed at +%s", a.Sub(h.t0), after[0].Sub(h.t0))
			}
		}
		last := after[len(after)-1]
		if got, want := h.l.Deadline(), timing.FenceDeadline(last); !got.Equal(want) {
			t.Errorf("Deadline = +%s, want +%s (from the last renewal)", got.Sub(h.t0), want.Sub(h.t0))
		}

		// A second outage is another extension, logged again.
		from = last.Add(timing.RenewInterval)
		api.cut(from, from.Add(2*window), true)
		until(from.Add(2*window + timing.RenewInterval))
		if !h.holding() {
			t.Fatalf("fenced in the second outage: %v", h.err)
		}
		if n := h.logs.count(extensionLogged); n != 2 {
			t.Errorf("extensions logged %d times over two outages, want 2", n)
		}
		if err := h.stop(); err != nil {
			t.Errorf("Hold after the stop: %v", err)
		}
	})
}

// TestConflictTellsLostFromRaced: a renewal that conflicts re-reads the
// Lease. Taken by the operator (the pod fenced), the agent is fenced at once;
// written by someone else but still ours, the renewal is retried and
// succeeds.
func TestConflictTellsLostFromRaced(t *testing.T) {
	timing := lease.DefaultTiming(10 * time.Second)
	t.Run("lost", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := newFakeAPI(t)
			h := hold(t, api, lease.Config{Timing: timing})
			api.store.write(func(l *coordinationv1.Lease) {
				l.Spec.HolderIdentity = nil
				l.Annotations = map[string]string{v1alpha1.AnnotationFencedHolders: testIdentity}
			})
			due := h.t0.Add(timing.RenewInterval)
			until(due)
			if h.holding() || !errors.Is(h.err, lease.ErrFenced) {
				t.Fatalf("Hold after the operator took the Lease: holding=%v, %v; want ErrFenced at the first renewal", h.holding(), h.err)
			}
		})
	})
	t.Run("raced", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := newFakeAPI(t)
			h := hold(t, api, lease.Config{Timing: timing})
			api.store.write(func(l *coordinationv1.Lease) { l.Labels = map[string]string{"touched": "yes"} })
			due := h.t0.Add(timing.RenewInterval)
			until(due.Add(time.Second))
			if !h.holding() {
				t.Fatalf("fenced by a write that left the Lease ours: %v", h.err)
			}
			if rs := api.renewals(); len(rs) != 1 || rs[0].Sub(due) > 250*time.Millisecond {
				t.Errorf("renewals %v, want one retried at once after the conflict at +%s", rs, due.Sub(h.t0))
			}
			if err := h.stop(); err != nil {
				t.Errorf("Hold after the stop: %v", err)
			}
		})
	})
}

// TestRenewalWinsOverALaterExtension: a renewal that succeeds decides the
// deadline, even when an extension that came while it was in flight counted
// from later than its send.
func TestRenewalWinsOverALaterExtension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		timing := lease.DefaultTiming(10 * time.Second)
		api := newFakeAPI(t)
		w := &witnesses{answers: make(chan bool), answeredNow: true}
		defer close(w.answers)
		h := hold(t, api, lease.Config{Timing: timing, Extender: w})
		api.slow(time.Second)
		due := h.t0.Add(timing.RenewInterval)
		healed := due.Add(time.Second)
		api.cut(due, healed, true)
		// The first renewal after the heal is on its way (a second long)
		// when the witnesses answer.
		answered := healed.Add(500 * time.Millisecond)
		until(answered)
		w.answers <- true
		synctest.Wait()
		if got, want := h.l.Deadline(), timing.FenceDeadline(answered); !got.Equal(want) {
			t.Fatalf("Deadline after the extension = +%s, want +%s", got.Sub(h.t0), want.Sub(h.t0))
		}
		until(answered.Add(time.Second))
		rs := api.renewals()
		if len(rs) != 1 || !rs[0].Before(answered) {
			t.Fatalf("renewals %v, want one sent before the extension at +%s", rs, answered.Sub(h.t0))
		}
		if got, want := h.l.Deadline(), timing.FenceDeadline(rs[0]); !got.Equal(want) {
			t.Errorf("Deadline after the renewal = +%s, want +%s (from the renewal's send)", got.Sub(h.t0), want.Sub(h.t0))
		}
		if err := h.stop(); err != nil {
			t.Errorf("Hold after the stop: %v", err)
		}
	})
}
