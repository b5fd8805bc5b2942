package lease

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Extender may push the fence deadline forward while renewals fail.
type Extender interface {
	// Extend asks the witnesses; ok means a strict majority answered that
	// they cannot reach the API server either, and base is when the
	// questions were sent (on this agent's monotonic clock): the deadline
	// may then count from base as from a renewal sent at base.
	Extend(ctx context.Context) (base time.Time, ok bool)
}

// Attempts after a failure start at least retrySpacing plus a random part of
// retryJitter apart: a refused connection fails at once and must not make
// the agent spin, and the agents of many instances cut off together should
// not retry in step. An attempt that timed out has waited longer than that
// already, so its retry goes out at once.
const (
	retrySpacing = 100 * time.Millisecond
	retryJitter  = 150 * time.Millisecond
)

// Hold renews the Lease until ctx is done (nil) or the agent is fenced
// (ErrFenced). A renewal goes out RenewInterval after the last successful
// one was sent. Each attempt has its own timeout (Timing.AttemptTimeout), so
// one request hung on a dead connection cannot use up the deadline; a failed
// attempt is retried at once, on fresh connections, until one succeeds or
// the deadline comes. No request outlives the deadline.
func (l *Lease) Hold(ctx context.Context) error {
	h := &holding{l: l, clk: l.cfg.Clock, t: l.cfg.Timing, log: l.log}
	defer h.stop()
	return h.run(ctx)
}

// holding is the state of one Hold; only its loop touches it.
type holding struct {
	l   *Lease
	clk clock.WithTicker
	t   Timing
	log logr.Logger

	deadline time.Time
	fence    clock.Timer
	// next starts the next attempt; nil while one is in flight.
	next    clock.Timer
	attempt *attempt
	ext     *extension

	// Since the last successful renewal: the attempts that failed, when
	// the first of them was sent, whether an extension was logged.
	failures    int
	failingFrom time.Time
	extended    bool
}

type attempt struct {
	sent    time.Time
	limit   time.Duration
	cancel  context.CancelFunc
	timeout clock.Timer
	done    chan attemptResult
}

type attemptResult struct {
	renewed *coordinationv1.Lease
	// reread is the Lease read back after a conflict (or NotFound): the
	// API server answered, and it says who holds the Lease now.
	reread *coordinationv1.Lease
	err    error
}

type extension struct {
	cancel context.CancelFunc
	done   chan extendResult
	// stale: a renewal succeeded since it was asked; its answer is
	// dropped, but no other call starts before it returns.
	stale bool
}

type extendResult struct {
	base time.Time
	ok   bool
}

func (h *holding) run(ctx context.Context) error {
	h.l.mu.Lock()
	base := h.l.base
	h.l.mu.Unlock()
	if !h.setDeadline(h.t.FenceDeadline(base)) {
		return fmt.Errorf("%w: no renewal succeeded by the deadline", ErrFenced)
	}
	if err := h.schedule(ctx, base.Add(h.t.RenewInterval)); err != nil {
		return err
	}
	for {
		var nextC, timeoutC <-chan time.Time
		var doneC <-chan attemptResult
		if a := h.attempt; a != nil {
			timeoutC, doneC = a.timeout.C(), a.done
		} else {
			nextC = h.next.C()
		}
		var extC <-chan extendResult
		if h.ext != nil {
			extC = h.ext.done
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.fence.C():
			return fmt.Errorf("%w: no renewal succeeded by the deadline", ErrFenced)
		case <-nextC:
			if err := h.start(ctx); err != nil {
				return err
			}
		case <-timeoutC:
			// Abandoned, not awaited: a transport that ignored the
			// cancellation must not hold the fence back. Its answer, if
			// any, goes to a channel nobody reads.
			a := h.finish()
			if err := h.failed(ctx, a, fmt.Errorf("no answer within %s", a.limit.Round(time.Millisecond)), false); err != nil {
				return err
			}
		case r := <-doneC:
			a := h.finish()
			if r.err == nil {
				if err := h.succeeded(ctx, a, r.renewed); err != nil || ctx.Err() != nil {
					return err
				}
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			if r.reread != nil {
				if holder := ptr.Deref(r.reread.Spec.HolderIdentity, ""); holder != h.l.cfg.Identity {
					return fmt.Errorf("%w: now held by %q", ErrFenced, holder)
				}
				h.l.mu.Lock()
				h.l.current = r.reread
				h.l.mu.Unlock()
			}
			if err := h.failed(ctx, a, r.err, r.reread != nil); err != nil {
				return err
			}
		case r := <-extC:
			h.answered(r)
		}
	}
}

// start sends a renewal, bounded by the attempt timeout and the deadline.
func (h *holding) start(ctx context.Context) error {
	cur := h.l.held()
	if cur == nil {
		return fmt.Errorf("%w: the Lease is not held (released, or never acquired)", ErrFenced)
	}
	sent := h.clk.Now()
	left := h.deadline.Sub(sent)
	if left <= 0 {
		return fmt.Errorf("%w: no renewal succeeded by the deadline", ErrFenced)
	}
	timeout := min(h.t.AttemptTimeout(), left)
	// The context's own deadline tells client-go (and anything below it)
	// how long it has; the loop's timer decides, on the injected clock,
	// when the attempt has failed.
	actx, cancel := context.WithTimeout(ctx, timeout)
	a := &attempt{sent: sent, limit: timeout, cancel: cancel, timeout: h.clk.NewTimer(timeout), done: make(chan attemptResult, 1)}
	go func() { a.done <- h.l.try(actx, cur, sent) }()
	h.attempt, h.next = a, nil
	return nil
}

// try is one renewal attempt; it runs on its own goroutine and touches no
// state of the Lease.
func (l *Lease) try(ctx context.Context, cur *coordinationv1.Lease, sent time.Time) attemptResult {
	leases := l.client.Leases(l.cfg.Namespace)
	next := cur.DeepCopy()
	next.Spec.RenewTime = ptr.To(metav1.NewMicroTime(sent))
	l.annotate(next)
	renewed, err := leases.Update(ctx, next, metav1.UpdateOptions{})
	if err == nil {
		return attemptResult{renewed: renewed}
	}
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		// Someone else wrote the Lease: re-read it to see whether it is
		// still ours.
		if got, getErr := leases.Get(ctx, l.cfg.Name, metav1.GetOptions{}); getErr == nil {
			return attemptResult{reread: got, err: err}
		}
	}
	return attemptResult{err: err}
}

// finish ends the attempt in flight and returns it.
func (h *holding) finish() *attempt {
	a := h.attempt
	a.timeout.Stop()
	a.cancel()
	h.attempt = nil
	return a
}

func (h *holding) succeeded(ctx context.Context, a *attempt, renewed *coordinationv1.Lease) error {
	// The deadline counts from this send, even if an extension reached
	// further: the API server is back, and with it the ordinary rule.
	h.l.renewed(renewed, a.sent)
	if h.failures > 0 {
		h.log.Info("Renewed the fencing Lease again", "failedAttempts", h.failures,
			"failingFor", a.sent.Sub(h.failingFrom).Round(time.Millisecond).String())
	}
	h.failures, h.extended = 0, false
	if h.ext != nil {
		h.ext.cancel()
		h.ext.stale = true
	}
	if !h.setDeadline(h.t.FenceDeadline(a.sent)) {
		// Only an agent that was not running (a frozen node) gets here:
		// the answer came within the attempt timeout of its send.
		return fmt.Errorf("%w: no renewal succeeded by the deadline", ErrFenced)
	}
	if ctx.Err() != nil {
		return nil
	}
	return h.schedule(ctx, a.sent.Add(h.t.RenewInterval))
}

// failed handles an attempt that did not renew. answered means the API
// server replied, so the connection works and is kept.
func (h *holding) failed(ctx context.Context, a *attempt, err error, answered bool) error {
	left := h.deadline.Sub(h.clk.Now())
	fenceIn := left.Round(time.Millisecond).String()
	if h.failures == 0 {
		h.failingFrom = a.sent
		h.log.Info("Renewing the fencing Lease failed; retrying until it succeeds, IRIS is stopped if none does in time",
			"error", err.Error(), "fenceIn", fenceIn)
	} else {
		h.log.V(1).Info("Renewing the fencing Lease failed again", "error", err.Error(), "failedAttempts", h.failures+1, "fenceIn", fenceIn)
	}
	h.failures++
	if !answered && h.l.cfg.CloseConnections != nil {
		// The request may have hung on a connection that is dead without
		// knowing it; its retry would queue behind it on the same one.
		h.l.cfg.CloseConnections()
	}
	// Witnesses can only vouch for an API server nobody reaches; one that
	// answered is not that.
	if h.l.cfg.Extender != nil && h.ext == nil && !answered && left > 0 {
		h.ask(ctx)
	}
	return h.schedule(ctx, a.sent.Add(retrySpacing+rand.N(retryJitter)))
}

// ask starts an Extend call, bounded by the current deadline: an answer
// after it is of no use.
func (h *holding) ask(ctx context.Context) {
	ectx, cancel := context.WithTimeout(ctx, h.deadline.Sub(h.clk.Now()))
	e := &extension{cancel: cancel, done: make(chan extendResult, 1)}
	ext := h.l.cfg.Extender
	go func() {
		base, ok := ext.Extend(ectx)
		e.done <- extendResult{base: base, ok: ok}
	}()
	h.ext = e
}

// answered applies an Extender's answer if it may be.
func (h *holding) answered(r extendResult) {
	e := h.ext
	h.ext = nil
	e.cancel()
	// The clock is read with the answer in hand, not when the call
	// returned: an agent that was not running in between (a frozen node)
	// must not apply an answer that has become too late.
	now := h.clk.Now()
	h.l.mu.Lock()
	base := h.l.base
	h.l.mu.Unlock()
	if e.stale || !r.ok || !h.t.MayExtend(base, r.base, now) {
		return
	}
	h.l.mu.Lock()
	h.l.base = r.base
	h.l.mu.Unlock()
	h.setDeadline(h.t.FenceDeadline(r.base))
	if !h.extended {
		h.extended = true
		h.log.Info("API server unreachable for a majority of witnesses too: keeping IRIS running",
			"deadline", h.deadline.Format(time.RFC3339Nano), "fenceIn", h.deadline.Sub(now).Round(time.Millisecond).String())
	}
}

// setDeadline moves the fence; false if the deadline has passed already.
func (h *holding) setDeadline(d time.Time) bool {
	if h.fence != nil {
		h.fence.Stop()
	}
	h.deadline = d
	left := d.Sub(h.clk.Now())
	h.fence = h.clk.NewTimer(left)
	return left > 0
}

// schedule starts the next attempt at at, or at once if that has passed
// (a fake clock's timer would wait for the next step).
func (h *holding) schedule(ctx context.Context, at time.Time) error {
	if h.next != nil {
		h.next.Stop()
		h.next = nil
	}
	d := at.Sub(h.clk.Now())
	if d <= 0 {
		return h.start(ctx)
	}
	h.next = h.clk.NewTimer(d)
	return nil
}

// stop ends whatever Hold left running.
func (h *holding) stop() {
	for _, t := range []clock.Timer{h.fence, h.next} {
		if t != nil {
			t.Stop()
		}
	}
	if h.attempt != nil {
		h.finish()
	}
	if h.ext != nil {
		h.ext.cancel()
	}
}
