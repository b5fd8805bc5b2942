package backup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/irisha/irisha/api/v1alpha1"
	"github.com/irisha/irisha/internal/iris"
)

const (
	// thawTimeout bounds one thaw (ExternalThaw, the check, the iris stat -W
	// fallback and its check).
	thawTimeout = 30 * time.Second
	// thawRetry is how soon a dead-man thaw that failed is tried again.
	thawRetry = time.Second
	// freezeMargin is added to twice maxFrozenSeconds for IRIS's own
	// ExternalFreezeTimeOut, so that IRIS's limit (which pauses user
	// updates rather than thawing) never fires before the agent's deadline.
	freezeMargin = 30
)

// Freezer is the part of the IRIS client the participant uses.
type Freezer interface {
	Freeze(ctx context.Context, timeoutSeconds int) error
	Thaw(ctx context.Context) error
}

var _ Freezer = (*iris.Client)(nil)

// Metrics the participant updates; the agent registers them.
type Metrics struct {
	// Frozen is 1 while this process holds IRIS frozen.
	Frozen prometheus.Gauge
	// DeadlineThaws counts the freezes the dead-man switch ended.
	DeadlineThaws prometheus.Counter
}

// freeze is the one freeze this process may hold, from ExternalFreeze until
// its end is recorded in the backup's status.
type freeze struct {
	key       types.NamespacedName
	uid       types.UID
	maxFrozen time.Duration
	frozenAt  time.Time
	// deadline carries a monotonic reading (with the real clock):
	// comparisons with the clock's Now ignore wall-clock steps.
	deadline time.Time
	timer    clock.Timer

	thawed   bool
	thawedAt time.Time
	thawedBy v1alpha1.ThawCause
}

// participant owns the freeze. Every IRIS call is made under mu, so the
// deadline timer and the reconciler never both thaw, and a freeze and a
// thaw never cross.
type participant struct {
	iris    Freezer
	metrics Metrics
	log     logr.Logger
	// clock arms the deadline timer and times the freeze; injected so
	// tests move time instead of sleeping.
	clock clock.WithDelayedExecution
	// base is the context the deadline timer thaws on; it is never
	// cancelled, since the thaw must outlive the manager.
	base context.Context
	// thawed tells the reconciler about a thaw the timer did.
	thawed chan event.GenericEvent
	// stopped is closed when the participant stops: nobody reads thawed then.
	stopped chan struct{}

	mu  sync.Mutex
	cur *freeze
}

func newParticipant(ctx context.Context, f Freezer, m Metrics, clk clock.WithDelayedExecution, log logr.Logger) *participant {
	return &participant{
		iris: f, metrics: m, log: log, clock: clk,
		base:    context.WithoutCancel(ctx),
		thawed:  make(chan event.GenericEvent, 1),
		stopped: make(chan struct{}),
	}
}

// view is what this process knows of backup b, for decide, and a copy of
// its freeze when this process holds it.
func (p *participant) view(b *v1alpha1.IrisBackup) (local, freeze) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.cur == nil:
		return local{own: notMine}, freeze{}
	case p.cur.uid != b.UID:
		return local{own: notMine, busy: true}, freeze{}
	case p.cur.thawed:
		return local{own: thawedByMe}, *p.cur
	}
	return local{own: frozenByMe, deadline: p.cur.deadline}, *p.cur
}

// freezeFor freezes IRIS for b and arms the dead-man switch. A failed
// freeze is thawed anyway, as IRIS's documented scripts do: a timed-out
// ExternalFreeze may still have suspended the write daemon.
func (p *participant) freezeFor(ctx context.Context, b *v1alpha1.IrisBackup) (freeze, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		return freeze{}, fmt.Errorf("IRIS is already frozen for IrisBackup %s", p.cur.key.Name)
	}
	maxFrozen := time.Duration(maxFrozenSeconds(b)) * time.Second
	callCtx, cancel := context.WithTimeout(ctx, maxFrozen)
	err := p.iris.Freeze(callCtx, freezeTimeoutSeconds(b))
	cancel()
	if err != nil {
		if thawErr := p.thawIris(); thawErr != nil {
			err = errors.Join(err, fmt.Errorf("thawing after the failed freeze: %w", thawErr))
		}
		return freeze{}, err
	}
	now := p.clock.Now()
	f := &freeze{key: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}, uid: b.UID,
		maxFrozen: maxFrozen, frozenAt: now, deadline: now.Add(maxFrozen)}
	// The dead-man switch: a timer, not a status the API server must
	// deliver, so it fires during a partition too.
	f.timer = p.clock.AfterFunc(maxFrozen, func() { p.deadlineReached(f) })
	p.cur = f
	p.metrics.Frozen.Set(1)
	p.log.Info("Froze IRIS for a backup", "backup", f.key.Name, "thawDeadline", f.deadline.Format(time.RFC3339Nano))
	return *f, nil
}

// deadlineReached is the timer's thaw. A failed thaw is retried on the
// timer, since nothing else may come to do it.
func (p *participant) deadlineReached(f *freeze) {
	p.mu.Lock()
	if p.cur != f || f.thawed {
		p.mu.Unlock()
		return
	}
	if err := p.thawIris(); err != nil {
		p.log.Error(err, "Thawing IRIS at the backup's deadline; retrying", "backup", f.key.Name)
		f.timer = p.clock.AfterFunc(thawRetry, func() { p.deadlineReached(f) })
		p.mu.Unlock()
		return
	}
	p.ended(f, v1alpha1.ThawDeadline)
	obj := &v1alpha1.IrisBackup{}
	obj.Namespace, obj.Name = f.key.Namespace, f.key.Name
	p.mu.Unlock()
	// Outside the lock: the reconciler may be waiting for it.
	select {
	case p.thawed <- event.GenericEvent{Object: obj}:
	case <-p.stopped:
	}
}

// thaw ends the freeze of backup uid for cause. If the timer thawed it
// first, its record (cause Deadline) is returned: the status tells the truth.
// A failed thaw leaves the freeze held, with its timer armed.
func (p *participant) thaw(uid types.UID, cause v1alpha1.ThawCause) (freeze, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.cur
	if f == nil || f.uid != uid {
		return freeze{}, errors.New("IRIS is not frozen for this backup by this process")
	}
	if f.thawed {
		return *f, nil
	}
	if err := p.thawIris(); err != nil {
		return freeze{}, err
	}
	f.timer.Stop()
	p.ended(f, cause)
	return *f, nil
}

// thawUnowned thaws for a backup frozen by an earlier process (IRIS or the
// agent restarted), which is harmless when nothing is frozen. It leaves IRIS
// alone while this process holds a freeze for another backup: that freeze
// is the only one IRIS has, and it is not this backup's.
func (p *participant) thawUnowned() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && !p.cur.thawed {
		return nil
	}
	return p.thawIris()
}

// forget drops the record of backup uid once its end is in its status, so
// the next backup may freeze.
func (p *participant) forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && p.cur.uid == uid && p.cur.thawed {
		p.cur = nil
	}
}

// gone handles a backup deleted while this process holds its freeze.
func (p *participant) gone(key types.NamespacedName) error {
	p.mu.Lock()
	f := p.cur
	p.mu.Unlock()
	if f == nil || f.key != key {
		return nil
	}
	if _, err := p.thaw(f.uid, v1alpha1.ThawRequested); err != nil {
		return fmt.Errorf("thawing IRIS for deleted IrisBackup %s: %w", key.Name, err)
	}
	p.forget(f.uid)
	return nil
}

// release ends the freeze at shutdown: with thaw, IRIS is thawed first
// (IRIS is about to be stopped cleanly); without, IRIS is already gone.
func (p *participant) release(thaw bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.cur
	if f == nil {
		return nil
	}
	f.timer.Stop()
	p.cur = nil
	p.metrics.Frozen.Set(0)
	if !thaw || f.thawed {
		return nil
	}
	if err := p.thawIris(); err != nil {
		return fmt.Errorf("thawing IRIS for IrisBackup %s before stopping: %w", f.key.Name, err)
	}
	p.log.Info("Thawed IRIS before stopping", "backup", f.key.Name)
	return nil
}

// ended marks f thawed; mu is held.
func (p *participant) ended(f *freeze, cause v1alpha1.ThawCause) {
	f.thawed, f.thawedAt, f.thawedBy = true, p.clock.Now(), cause
	p.metrics.Frozen.Set(0)
	if cause == v1alpha1.ThawDeadline {
		p.metrics.DeadlineThaws.Inc()
	}
	p.log.Info("Thawed IRIS", "backup", f.key.Name, "thawedBy", cause, "frozenFor", f.thawedAt.Sub(f.frozenAt).String())
}

// thawIris runs the thaw on a context of its own: it must happen even when
// the reconcile that asked for it was cancelled. mu is held.
func (p *participant) thawIris() error {
	ctx, cancel := context.WithTimeout(p.base, thawTimeout)
	defer cancel()
	return p.iris.Thaw(ctx)
}

func maxFrozenSeconds(b *v1alpha1.IrisBackup) int {
	if b.Spec.MaxFrozenSeconds <= 0 {
		return v1alpha1.DefaultMaxFrozenSeconds // for an object that bypassed the CRD's default
	}
	return int(b.Spec.MaxFrozenSeconds)
}

// freezeTimeoutSeconds is IRIS's ExternalFreezeTimeOut for b: comfortably
// above the agent's deadline, within IRIS's cap.
func freezeTimeoutSeconds(b *v1alpha1.IrisBackup) int {
	return min(2*maxFrozenSeconds(b)+freezeMargin, iris.MaxFreezeTimeout)
}
